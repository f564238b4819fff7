"""Folding new history records into the per-day stage table (`insight_stage_days`).

Each record that moves a loan out of a stage closes a span: from the record before it (when
the loan entered that stage) to this one. Spans are added to one row per (day left, stage,
office) together with the watermark, in one transaction, so a record is counted exactly once
even with two refreshers (the watermark row is locked) or a crash midway.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import Loan, LoanEvent
from ..workflow import Definition
from ..workflow.deadlines import due_at
from .tables import StageDay, Watermark

NAME = "stage_spans"


async def refresh(session: AsyncSession, definition: Definition, *, batch: int = 50_000) -> int:
    """Fold up to `batch` new records; return how many were read."""
    mark = (await session.execute(select(Watermark).where(Watermark.name == NAME).with_for_update())).scalar_one_or_none()
    if mark is None:
        mark = Watermark(name=NAME, value=0)
        session.add(mark)
        await session.flush()
    previous = LoanEvent.__table__.alias("previous")
    entered_at = (select(func.max(previous.c.at)).where(previous.c.loan_id == LoanEvent.loan_id,
                                                        previous.c.id < LoanEvent.id).scalar_subquery())
    rows = (await session.execute(
        select(LoanEvent.id, LoanEvent.from_stage, LoanEvent.at, entered_at, Loan.office_id)
        .join(Loan, Loan.id == LoanEvent.loan_id).where(LoanEvent.id > mark.value)
        .order_by(LoanEvent.id).limit(batch))).all()
    if not rows:
        return 0
    buckets: dict[tuple[dt.date, str, int], list[int]] = {}
    for _event_id, stage, left, entered, office_id in rows:
        if entered is None or stage == "new":
            continue
        if isinstance(entered, str):  # max() over SQLite returns the stored text
            entered = dt.datetime.fromisoformat(entered).replace(tzinfo=dt.timezone.utc)
        seconds = int((left - entered).total_seconds())
        spec = definition.stages.get(stage)
        deadline = due_at(spec, entered) if spec is not None else None
        bucket = buckets.setdefault((left.date(), stage, office_id), [0, 0, 0])
        bucket[0] += 1
        bucket[1] += max(seconds, 0)
        bucket[2] += 1 if deadline is not None and left > deadline else 0
    # Load the rows of the touched days at once (one query, not one per bucket).
    existing = {(r.day, r.stage, r.office_id): r for r in (await session.execute(
        select(StageDay).where(StageDay.day.in_(sorted({key[0] for key in buckets}))))).scalars()}
    for (day, stage, office_id), (spans, seconds, late) in buckets.items():
        row = existing.get((day, stage, office_id))
        if row is None:
            session.add(StageDay(day=day, stage=stage, office_id=office_id, spans=spans, seconds=seconds, late=late))
        else:
            row.spans, row.seconds, row.late = row.spans + spans, row.seconds + seconds, row.late + late
    mark.value = rows[-1][0]
    return len(rows)


async def refresh_all(db, definition: Definition) -> int:
    total = 0
    while True:
        async with db.unit_of_work() as session:
            n = await refresh(session, definition)
        total += n
        if n == 0:
            return total
