"""Anchors of the audit chain outside the database.

A hash chain alone can be recomputed by whoever can write the database: rewind its tail (or
wipe the table with its head row) and `audit verify` still finds a chain that holds. An anchor
is the chain head (sequence number and hash) at a moment, signed with the archive's Ed25519
key and written into the archive store, which the database's users cannot rewrite. `loanctl
audit verify --expect-head` then checks that the chain still contains the anchored record,
unchanged: a rewound tail, a rewritten history or a wiped table breaks that.

The running service writes an anchor every `audit_anchor_interval` seconds when the head has
moved (`audit-head.json`, the newest, and `audit-head-<seq>.json`, kept); `loanctl audit
anchor` writes one now. docs/security.md has the operator's routine.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from core.db import Database, DatabaseUnavailable
from core.orm import AuditHead

from .blobstore import BlobStore
from .creditfile import CreditFileError, IndexSignature, IndexSigner, IndexTampered, IndexVerifier

LATEST = "audit-head.json"
_LITERAL_RE = re.compile(r"^\s*(\d{1,18})\s*[:\t ]\s*([0-9a-f]{64})\s*$")

log = logging.getLogger(__name__)


class AnchorError(ValueError):
    """An anchor that cannot be read, or whose signature does not hold."""


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str = ""
    """When it was taken (ISO 8601 UTC); empty for a head typed in by hand."""

    def canonical_bytes(self) -> bytes:
        return json.dumps({"at": self.at, "hash": self.hash, "seq": self.seq},
                          sort_keys=True, separators=(",", ":")).encode()

    def signed_document(self, signer: IndexSigner) -> bytes:
        signature = signer.sign_bytes(self.canonical_bytes())
        return json.dumps({"anchor": json.loads(self.canonical_bytes()),
                           "signature": json.loads(signature.to_bytes())}, sort_keys=True, indent=1).encode()

    @staticmethod
    def history_name(seq: int) -> str:
        return f"audit-head-{seq:012d}.json"


def read_document(data: bytes, verifier: IndexVerifier) -> Anchor:
    """A signed anchor document; AnchorError unless its signature holds."""
    try:
        raw = json.loads(data)
        anchor = Anchor(int(raw["anchor"]["seq"]), str(raw["anchor"]["hash"]), str(raw["anchor"]["at"]))
        signature = IndexSignature.from_bytes(json.dumps(raw["signature"]).encode())
    except (ValueError, KeyError, TypeError, CreditFileError) as error:
        raise AnchorError(f"unreadable anchor: {error}") from None
    try:
        verifier.verify_bytes(anchor.canonical_bytes(), signature)
    except (IndexTampered, CreditFileError) as error:
        raise AnchorError(f"the anchor's signature does not hold: {error}") from None
    return anchor


def parse_expected(value: str, verifier: IndexVerifier) -> Anchor:
    """``SEQ:HASH`` (or as `loanctl audit head` prints it), or a file holding either that or a
    signed anchor document."""
    literal = _LITERAL_RE.match(value)
    if literal:
        return Anchor(int(literal.group(1)), literal.group(2))
    path = Path(value)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AnchorError(f"{value!r} is neither SEQ:HASH nor a readable file ({error.strerror})") from None
    if data.lstrip().startswith(b"{"):
        return read_document(data, verifier)
    literal = _LITERAL_RE.match(data.decode("utf-8", "replace"))
    if not literal:
        raise AnchorError(f"{path} holds neither SEQ:HASH nor a signed anchor")
    return Anchor(int(literal.group(1)), literal.group(2))


async def latest(store: BlobStore, verifier: IndexVerifier) -> Anchor | None:
    data = await store.get_named(LATEST)
    return None if data is None else read_document(data, verifier)


async def write_anchor(db: Database, store: BlobStore, signer: IndexSigner) -> Anchor | None:
    """Anchor the current head unless it is anchored already; returns the new anchor."""
    async with db.unit_of_work(write=False) as session:
        head = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one_or_none()
    if head is None:
        return None
    try:
        previous = await latest(store, signer.verifier())
    except AnchorError:
        previous = None  # a damaged newest anchor is replaced; the kept history still tells
    if previous is not None and (previous.seq, previous.hash) == (head.seq, head.hash):
        return None
    anchor = Anchor(head.seq, head.hash, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    document = anchor.signed_document(signer)
    await store.put_named(Anchor.history_name(anchor.seq), document)
    await store.put_named(LATEST, document)
    return anchor


async def anchor_periodically(db: Database, store: BlobStore, signer: IndexSigner, interval: float) -> None:
    """The running service's anchoring task (cancelled at shutdown)."""
    while True:
        await asyncio.sleep(interval)
        try:
            written = await write_anchor(db, store, signer)
            if written is not None:
                log.info("audit chain anchored at record %d", written.seq)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailable:
            pass  # the database logs its outage once; the next round tries again
        except Exception as error:  # noqa: BLE001 - e.g. the store unreachable: try next round
            log.warning("anchoring the audit chain failed (%s: %s); will retry", type(error).__name__, error)
