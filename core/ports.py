"""What core needs from the other services, declared here and wired in by the composition root.

Core is the base of the suite: it imports none of biometrics/, committee/, recordings/, web/
(docs/internals.md, tests/test_import_graph.py). Where a use case of core needs one of them
(a step-up token spent with the command, a post-loan scan filed into the credit archive, a
refusal worded in the caller's language), it asks through a port below. `core.app.create_root`
puts the implementations into the application (`core.context.PORTS`); `Services` hands them
to the use cases. A core without them still runs: step-up then fails closed, scans are kept
under the data folder, refusals keep their own text.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .audit import Actor
from .errors import Forbidden


class StepUpVerifier(Protocol):
    """Spends a fingerprint step-up token for exactly this command, in the command's own
    transaction, or refuses (403) saying why. Implemented by the fingerprint service
    (`biometrics.wiring.StepUpTokens`)."""

    async def redeem(self, session: AsyncSession, token: str | None, *, user_id: int, loan_id: int,
                     action: str, payload: Mapping[str, Any], now: dt.datetime | None = None) -> None: ...


class StepUpUnavailable:
    """The verifier of a core assembled without the fingerprint service: with
    LOANCTL_STEP_UP=required an important action is refused, never let through."""

    async def redeem(self, session: AsyncSession, token: str | None, *, user_id: int, loan_id: int,
                     action: str, payload: Mapping[str, Any], now: dt.datetime | None = None) -> None:
        raise Forbidden(f"'{action}' needs a fingerprint step-up, and no fingerprint service is configured",
                        code="step_up_unavailable", details={"action": action})


@dataclass(frozen=True)
class StoredBlob:
    digest: str  # SHA-256, hex
    size: int


class DocumentRefused(ValueError):
    """Bytes that are not the kind of document they claim to be (or too large, or damaged)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ArchiveFiler(Protocol):
    """The credit archive as core's post-loan records use it (`recordings.filing.ArchiveFiling`)."""

    async def put_bytes(self, data: bytes) -> StoredBlob:
        """Keep the bytes in the archive's store (content-addressed)."""

    async def file_record(self, session: AsyncSession, loan_id: int, kind: str, digest: str, size: int,
                          title: str, *, actor: Actor, media_type: str, code: str | None = None,
                          filed_by_id: int | None = None) -> Mapping[str, Any]:
        """File a stored blob into the loan's credit file in the caller's transaction; the
        answer names the archive entry (`entry_id`)."""


class DocumentCheck(Protocol):
    """Checks that bytes really are a document of one of the `allowed` kinds (pdf, jpeg, png),
    fully parseable and at most `max_size` bytes; returns its media type or raises
    `DocumentRefused` (`recordings.filing.check_document`)."""

    def __call__(self, data: bytes, *, allowed: Collection[str], max_size: int) -> str: ...


class Wording(Protocol):
    """The catalogue's words for a refusal (web/i18n.py, through `web.wording.CatalogueWording`)."""

    def language(self, cookie: str | None, accept_language: str) -> str:
        """The caller's language from their cookie and Accept-Language."""

    def refusal(self, code: str, language: str, values: Mapping[str, Any]) -> str | None:
        """The refusal `code` worded in `language`, or None when the catalogue has no words for it."""


@dataclass(frozen=True)
class Ports:
    """The implementations the composition root wires in; the defaults are what a core running
    alone does without them."""

    step_up: StepUpVerifier = field(default_factory=StepUpUnavailable)
    archive: ArchiveFiler | None = None
    check_document: DocumentCheck | None = None
    wording: Wording | None = None
