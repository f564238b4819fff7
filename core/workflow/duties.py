"""Separation of duties (审贷分离), checked per loan from its history.

On one loan a person may do a duty several times (an investigation returned and redone) but
never two different exclusive duties: investigate (A or B), review, committee vote, payment
first review, payment second review, disburse. Officers A and B count as two duties so that
the same person can never be both.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from .errors import DutyConflict
from .views import DutyRecord

DEFAULT_EXCLUSIVE = frozenset({
    "investigate_a", "investigate_b", "review", "committee_vote",
    "payment_first_review", "payment_second_review", "disburse",
})


def duties_of(history: Iterable[DutyRecord], user_id: str, exclusive: frozenset[str] = DEFAULT_EXCLUSIVE) -> frozenset[str]:
    return frozenset(r.duty for r in history if r.user_id == user_id and r.duty in exclusive)


def check_duty(history: Iterable[DutyRecord], user_id: str, duty: str,
               exclusive: frozenset[str] = DEFAULT_EXCLUSIVE) -> None:
    """Raise DutyConflict if ``user_id`` already did another exclusive duty on this loan."""
    if duty not in exclusive:
        return
    other = sorted(duties_of(history, user_id, exclusive) - {duty})
    if other:
        raise DutyConflict(
            f"user {user_id} already did {', '.join(other)} on this loan and may not also do {duty}",
            code="duty_conflict", details={"user_id": user_id, "duty": duty, "earlier": other},
        )


def check_new_duties(history: Iterable[DutyRecord], new: Iterable[DutyRecord],
                     exclusive: frozenset[str] = DEFAULT_EXCLUSIVE) -> None:
    """Check a batch (e.g. a whole committee, or officers A and B at dispatch) against the history
    and against each other."""
    seen = list(history)
    for record in new:
        check_duty(seen, record.user_id, record.duty, exclusive)
        seen.append(record)


def excluded_for(history: Iterable[DutyRecord], duty: str,
                 exclusive: frozenset[str] = DEFAULT_EXCLUSIVE) -> dict[str, tuple[str, ...]]:
    """People who may not take ``duty`` on this loan, with the duties that exclude them.

    The committee draw uses this to log exclusions (the case's officers, its reviewer...).
    """
    by_user: dict[str, set[str]] = {}
    for record in history:
        if record.duty in exclusive and record.duty != duty:
            by_user.setdefault(record.user_id, set()).add(record.duty)
    return {user: tuple(sorted(d)) for user, d in by_user.items()}


def slot_records(assignments: Mapping[str, str], slot_duties: Mapping[str, str]) -> list[DutyRecord]:
    """The duties people take on by being assigned (officer A -> investigate_a)."""
    return [DutyRecord(user, slot_duties[slot]) for slot, user in assignments.items() if slot in slot_duties]
