"""What the workflow needs to know about a loan and an actor: plain values the core fills in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class DutyRecord:
    """One person did one duty on the loan (from its history)."""

    user_id: str
    duty: str


@dataclass(frozen=True)
class LoanView:
    id: str
    stage: str
    definition_version: str
    product: str | None = None
    amount: int | None = None  # fen (分), the amount applied for or approved
    term_months: int | None = None
    customer_user_id: str | None = None
    # who created the application: the applicant (self-service) or the officer typing it (代申请)
    author_id: str | None = None
    # people bound to the loan by earlier actions: officer_a, officer_b, post_loan_manager, ...
    assignments: Mapping[str, str] = field(default_factory=dict)
    history: tuple[DutyRecord, ...] = ()
    # who made the step into the current stage, and whether anyone at this stage has acted since
    last_sender_id: str | None = None
    next_stage_acted: bool = False
    # facts set by the core: existing_customer, reapplication, fingerprints_matched, ...
    flags: frozenset[str] = frozenset()
    # document codes already filed for the loan
    documents: frozenset[str] = frozenset()

    @property
    def officer_a_id(self) -> str | None:
        return self.assignments.get("officer_a")

    @property
    def officer_b_id(self) -> str | None:
        return self.assignments.get("officer_b")


@dataclass(frozen=True)
class ActorView:
    user_id: str
    roles: frozenset[str]
    office_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.roles, frozenset):
            object.__setattr__(self, "roles", frozenset(self.roles))
