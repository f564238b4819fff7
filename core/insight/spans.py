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

from ..orm import Loan, LoanEvent, UTCDateTime
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
    # Pair each new record with the one before it (LAG over the loan's records). Only the loans
    # touched by the records of this id range are read, through the loan_id index.
    upper = mark.value + batch
    touched = select(LoanEvent.loan_id).where(LoanEvent.id > mark.value, LoanEvent.id <= upper)
    paired = (select(LoanEvent.id, LoanEvent.loan_id, LoanEvent.from_stage, LoanEvent.at,
                     func.lag(LoanEvent.at, type_=UTCDateTime()).over(partition_by=LoanEvent.loan_id,
                                                                       order_by=LoanEvent.id).label("entered"))
              .where(LoanEvent.loan_id.in_(touched), LoanEvent.id <= upper).subquery())
    rows = (await session.execute(
        select(paired.c.id, paired.c.from_stage, paired.c.at, paired.c.entered, Loan.office_id)
        .join(Loan, Loan.id == paired.c.loan_id).where(paired.c.id > mark.value).order_by(paired.c.id))).all()
    if not rows:
        # Nothing in this id range; records may still lie beyond it (ids need not be dense).
        beyond = (await session.execute(select(func.min(LoanEvent.id)).where(LoanEvent.id > upper))).scalar()
        if beyond is None:
            return 0
        mark.value = beyond - 1
        return await refresh(session, definition, batch=batch)
    buckets: dict[tuple[dt.date, str, int], list[int]] = {}
    for _event_id, stage, left, entered, office_id in rows:
        if entered is None or stage == "new":
            continue
        if isinstance(entered, str):  # a driver that hands back the stored text
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
