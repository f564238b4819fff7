"""The audit trail: append-only records, each hash-chained to the one before.

A record's hash covers its own fields and the previous record's hash, so an altered,
inserted or deleted record breaks the chain at that point; `verify_chain` names it.
The chain alone can be recomputed by someone with write access to the database, which is
why its head is also anchored outside it (`loanctl audit head`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import AuditHead, AuditRecord

GENESIS = "0" * 64


def canonical_json(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def payload_digest(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


_CHAINED_FIELDS = ("seq", "at", "actor_id", "actor", "role", "office_id", "action",
                   "object_type", "object_id", "payload_hash", "outcome", "prev_hash")


def link_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json([fields[name] for name in _CHAINED_FIELDS])).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who does something: a user acting in one of their roles, or a service."""

    user_id: int | None
    name: str
    role: str
    office_id: int | None

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(None, name, "system", None)


async def append(session: AsyncSession, actor: Actor, action: str, object_type: str,
                 object_id: Any, payload: Any = None, outcome: str = "ok") -> AuditRecord:
    """Add one record in the caller's transaction (so it commits or rolls back with it)."""
    head = (await session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update())).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    fields = dict(
        seq=head.seq + 1,
        at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
        actor_id=actor.user_id, actor=actor.name, role=actor.role, office_id=actor.office_id,
        action=action, object_type=object_type, object_id=str(object_id),
        payload_hash=payload_digest(payload), outcome=outcome, prev_hash=head.hash,
    )
    record = AuditRecord(**fields, hash=link_hash(fields))
    session.add(record)
    head.seq, head.hash = record.seq, record.hash
    await session.flush()
    return record


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    kind: str  # altered | inserted | deleted | head
    message: str


def verify_chain(records: Iterable[dict[str, Any]], head: tuple[int, str] | None,
                 anchor: tuple[int, str] | None = None) -> ChainBreak | None:
    """Check records in sequence order; return the first break, or None if the chain holds.

    ``anchor`` is a (seq, hash) taken earlier and kept outside the database: the chain must
    still hold that record unchanged, which a rewound tail or a wiped table does not.
    Streams with a window of three records, so memory stays flat on long chains.
    """
    before_prev, prev = None, None  # the two records before the current one
    iterator = iter(records)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        brk = _check(current, following, prev, before_prev)
        if brk:
            return brk
        if anchor is not None and current["seq"] == anchor[0] and current["hash"] != anchor[1]:
            return ChainBreak(anchor[0], "anchor", f"record {anchor[0]} is not the one anchored outside the "
                              "database: the chain was rewritten since the anchor was taken")
        before_prev, prev, current = prev, current, following
    last_seq, last_hash = (prev["seq"], prev["hash"]) if prev else (0, GENESIS)
    if anchor is not None and last_seq < anchor[0]:
        return ChainBreak(last_seq + 1, "rewound",
                          f"the chain ends at record {last_seq} but the anchor names record {anchor[0]}: "
                          f"records {last_seq + 1}..{anchor[0]} (at least) were removed with the head")
    if head is not None and (head[0], head[1]) != (last_seq, last_hash):
        if head[0] > last_seq:
            return ChainBreak(last_seq + 1, "deleted",
                              f"records {last_seq + 1}..{head[0]} are missing from the end of the chain")
        if head[0] < last_seq:
            return ChainBreak(head[0] + 1, "inserted",
                              f"records {head[0] + 1}..{last_seq} were added after the chain head")
        return ChainBreak(last_seq, "altered", f"record {last_seq} does not match the chain head")
    return None


def _check(record, following, prev, before_prev) -> ChainBreak | None:
    expected_seq = prev["seq"] + 1 if prev else 1
    expected_prev_hash = prev["hash"] if prev else GENESIS
    seq = record["seq"]
    if seq > expected_seq:
        return ChainBreak(expected_seq, "deleted",
                          f"record {expected_seq} is missing (the next one present is {seq})")
    if seq < expected_seq:
        return ChainBreak(seq, "inserted", f"a second record {seq} was inserted")
    if link_hash(record) != record["hash"]:
        # Renumbered by one and pointing past its predecessor: the predecessor was slipped in.
        shifted = dict(record, seq=seq - 1)
        if prev is not None and link_hash(shifted) == record["hash"] and \
                record["prev_hash"] == (before_prev["hash"] if before_prev else GENESIS):
            return ChainBreak(prev["seq"], "inserted", f"record {prev['seq']} was inserted into the chain")
        return ChainBreak(seq, "altered", f"record {seq} was altered: its content does not match its hash")
    if record["prev_hash"] != expected_prev_hash:
        if following is not None and following["prev_hash"] == expected_prev_hash:
            return ChainBreak(seq, "inserted", f"record {seq} was inserted into the chain")
        return ChainBreak(seq, "altered", f"record {seq} does not follow record {seq - 1}: "
                          "the chain before it was rewritten")
    return None


def _stream(sync_session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    rows = sync_session.execute(
        select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)).scalars()
    for row in rows:
        yield {name: getattr(row, name) for name in (*_CHAINED_FIELDS, "hash")}


async def verify(session: AsyncSession, anchor: tuple[int, str] | None = None) -> tuple[ChainBreak | None, int]:
    """Verify the stored chain (against an anchor, see `verify_chain`); returns the first break
    (or None) and the records checked."""
    head_row = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one_or_none()
    head = (head_row.seq, head_row.hash) if head_row else None

    def run(sync_session):
        counted = 0

        def counting():
            nonlocal counted
            for record in _stream(sync_session):
                counted += 1
                yield record
        return verify_chain(counting(), head, anchor), counted
    return await session.run_sync(run)
