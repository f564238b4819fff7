"""Live figures for management, narrowed to what the caller oversees.

Statistics are by organisation: a manager sees the loans of their office subtree, the
chairman the whole bank (`Scope.whole_bank`). Each loan figure is one GROUP BY served by
the covering index `ix_loans_insight`; time in stage and committee turnaround read the
pre-aggregated `insight_stage_days` (see spans.py). So a dashboard reads at most one pass over
an index, whatever the number of history records.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Numeric, String, and_, case, cast, extract, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..orm import Loan, Office, User
from ..postloan.tables import ManagedLoan, OfficerRating
from ..scope import Scope
from .tables import StageDay

APPROVED_STAGES = ("signing", "payment_first_review", "payment_second_review", "compliance_review",
                   "disbursement", "active", "closed")
ENDED_STAGES = ("closed", "rejected", "withdrawn")
COMMITTEE_STAGE = "committee_meeting"


class money_sum(FunctionElement):
    """A sum of fen that cannot overflow: PostgreSQL sums bigint into numeric, but SQLite's
    SUM() raises "integer overflow" past 2^63 (one absurd application would break every
    dashboard), so there it is TOTAL(), a float sum (exact to the fen below 2^53 fen)."""

    type = Numeric()
    name = "money_sum"
    inherit_cache = True


@compiles(money_sum)
def _sum(element, compiler, **kw):
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _total(element, compiler, **kw):
    return f"TOTAL({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def last_days(cls, days: int, now: dt.datetime) -> "Period":
        return cls(now - dt.timedelta(days=days), now)


def offices_of(scope: Scope):
    """The condition on an office id column: the caller's subtree, or everything for the chairman."""
    if scope.whole_bank:
        return lambda column: true()
    subtree = select(Office.id).where(Office.path.startswith(scope.principal.office_path))
    return lambda column: column.in_(subtree)


async def _counting(session: AsyncSession, scope: Scope):
    """Loans that count: in the caller's offices, and not an imported loan still waiting for its
    check. The few waiting ids are read first, so the usual case costs no per-row subquery."""
    waiting = list((await session.execute(
        select(ManagedLoan.loan_id).where(ManagedLoan.checked.is_(False)))).scalars())
    condition = offices_of(scope)(Loan.office_id)
    return and_(condition, Loan.id.not_in(waiting)) if waiting else condition


def _plain(column):
    # Grouping by an expression, not the bare column, keeps SQLite from walking another index
    # in group order (and reading every table row); it scans the covering index instead.
    return func.coalesce(column, literal_column("''"))


DIMENSIONS = ("stage", "product", "office", "month")


def _month(session: AsyncSession):
    """'YYYY-MM' of the application date, with each database's own cheap formatter."""
    if session.bind.dialect.name == "postgresql":
        return func.to_char(Loan.created_at, literal_column("'YYYY-MM'"))
    if session.bind.dialect.name == "sqlite":
        return func.strftime(literal_column("'%Y-%m'"), Loan.created_at)
    return func.substr(cast(Loan.created_at, String), 1, 7)


async def loan_figures(session: AsyncSession, scope: Scope, period: Period) -> dict[str, list[dict]]:
    """Applications, approvals, rejections and amounts by stage, product, office and month.

    One GROUP BY over all four (a few thousand groups at most), rolled up here: one pass over
    the index instead of four."""
    month = _month(session).label("month")
    stage, product = _plain(Loan.stage).label("stage"), _plain(Loan.product).label("product")
    rows = (await session.execute(
        select(stage, product, Loan.office_id, month, func.count(),
               func.sum(case((Loan.stage.in_(APPROVED_STAGES), 1), else_=0)),
               func.sum(case((Loan.stage == "rejected", 1), else_=0)),
               func.coalesce(money_sum(Loan.amount_fen), 0))
        .where(await _counting(session, scope), Loan.created_at >= period.start, Loan.created_at < period.end)
        .group_by(stage, product, Loan.office_id, month))).all()
    names = dict((await session.execute(select(Office.id, Office.name_zh))).all())
    out: dict[str, dict] = {d: {} for d in DIMENSIONS}
    for stage_, product_, office_id, month_, count, approved, rejected, amount in rows:
        for dimension, key in (("stage", stage_), ("product", product_), ("office", office_id), ("month", month_)):
            total = out[dimension].setdefault(key, [0, 0, 0, 0])
            total[0] += count
            total[1] += int(approved or 0)
            total[2] += int(rejected or 0)
            total[3] += int(amount or 0)
    return {d: [{"key": names.get(k, k) if d == "office" else k, "applications": v[0], "approved": v[1],
                 "rejected": v[2], "amount_fen": v[3]} for k, v in sorted(out[d].items(), key=lambda kv: str(kv[0]))]
            for d in DIMENSIONS}


async def by_dimension(session: AsyncSession, scope: Scope, period: Period, dimension: str) -> list[dict]:
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    return (await loan_figures(session, scope, period))[dimension]


async def open_cases(session: AsyncSession, scope: Scope, now: dt.datetime) -> list[tuple]:
    """Open cases counted by (stage, office, officer), with how many and how much are late."""
    late = and_(Loan.due_at.is_not(None), Loan.due_at < now)
    return list((await session.execute(
        select(_plain(Loan.stage), Loan.office_id, Loan.officer_a_id, func.count(),
               func.sum(case((late, 1), else_=0)), money_sum(case((late, Loan.amount_fen), else_=0)))
        .where(await _counting(session, scope), Loan.stage.not_in(ENDED_STAGES))
        .group_by(_plain(Loan.stage), Loan.office_id, Loan.officer_a_id))).all())


async def overdue(session: AsyncSession, scope: Scope, now: dt.datetime, *, limit: int = 200,
                  opened: list[tuple] | None = None) -> dict:
    """Cases past their stage deadline (by stage, office and person), and loans past maturity."""
    counting = await _counting(session, scope)
    late = and_(counting, Loan.due_at < now, Loan.stage.not_in(ENDED_STAGES))
    totals: dict[str, list[int]] = {}
    for stage, _office, _officer, _count, late_count, late_amount in (opened if opened is not None else
                                                                     await open_cases(session, scope, now)):
        if late_count:
            total = totals.setdefault(stage, [0, 0])
            total[0] += int(late_count)
            total[1] += int(late_amount or 0)
    by_stage = [(stage, c, a) for stage, (c, a) in sorted(totals.items())]
    cases = (await session.execute(
        select(Loan.id, Loan.tracking_code, Loan.stage, Office.name_zh, Loan.due_at, Loan.amount_fen,
               User.display_name)
        .join(Office, Office.id == Loan.office_id).outerjoin(User, User.id == Loan.officer_a_id)
        .where(late).order_by(Loan.due_at).limit(limit))).all()
    arrears = (await session.execute(
        select(func.count(), func.coalesce(money_sum(ManagedLoan.outstanding_fen), 0))
        .join(Loan, Loan.id == ManagedLoan.loan_id)
        .where(counting, ManagedLoan.status == "active", ManagedLoan.maturity_on < now.date()))).one()
    return {
        "by_stage": [{"stage": s, "count": c, "amount_fen": int(a or 0)} for s, c, a in by_stage],
        "cases": [{"loan_id": r.id, "tracking_code": r.tracking_code, "stage": r.stage, "office": r.name_zh,
                   "due_at": r.due_at.isoformat(), "late_hours": round((now - r.due_at).total_seconds() / 3600, 1),
                   "amount_fen": r.amount_fen, "officer": r.display_name or "—"} for r in cases],
        "past_maturity": {"count": arrears[0], "outstanding_fen": int(arrears[1])},
    }


async def stage_times(session: AsyncSession, scope: Scope, period: Period, definition=None) -> list[dict]:
    """Average time in each stage and how often it ran past its deadline, for stages left in the period."""
    rows = (await session.execute(
        select(StageDay.stage, func.sum(StageDay.spans), func.sum(StageDay.seconds), func.sum(StageDay.late))
        .where(offices_of(scope)(StageDay.office_id), StageDay.day >= period.start.date(),
               StageDay.day <= period.end.date())
        .group_by(StageDay.stage).order_by(StageDay.stage))).all()
    out = []
    for stage, spans, seconds, late in rows:
        spec = definition.stages.get(stage) if definition is not None else None
        deadline = (f"{spec.deadline_hours} h" if spec and spec.deadline_hours is not None else
                    f"{spec.deadline_working_days} working days" if spec and spec.deadline_working_days else "—")
        out.append({"stage": stage, "count": int(spans), "average_hours": round(int(seconds) / int(spans) / 3600, 2),
                    "deadline": deadline, "late": int(late), "late_rate": round(int(late) / int(spans), 3)})
    return out


async def committee_turnaround(session: AsyncSession, scope: Scope, period: Period) -> dict:
    """From convening (entering the meeting stage) to the committee's decision (leaving it)."""
    row = (await session.execute(
        select(func.sum(StageDay.spans), func.sum(StageDay.seconds))
        .where(StageDay.stage == COMMITTEE_STAGE, offices_of(scope)(StageDay.office_id),
               StageDay.day >= period.start.date(), StageDay.day <= period.end.date()))).one()
    decisions = int(row[0] or 0)
    return {"decisions": decisions, "average_hours": round(int(row[1] or 0) / decisions / 3600, 2) if decisions else 0.0}


async def officer_performance(session: AsyncSession, scope: Scope, period: Period) -> list[dict]:
    """Per loan officer (officer A): cases, amounts, time, overdue rate, customer ratings."""
    now = period.end
    late = case((and_(Loan.due_at < now, Loan.stage.not_in(ENDED_STAGES)), 1), else_=0)
    rows = (await session.execute(
        select(Loan.officer_a_id, func.count(), func.coalesce(money_sum(Loan.amount_fen), 0), func.sum(late),
               func.sum(case((Loan.stage.in_(APPROVED_STAGES), 1), else_=0)),
               func.avg(extract("epoch", Loan.updated_at) - extract("epoch", Loan.created_at)))
        .where(await _counting(session, scope), Loan.officer_a_id.is_not(None), Loan.created_at >= period.start,
               Loan.created_at < period.end)
        .group_by(Loan.officer_a_id))).all()
    ids = [r[0] for r in rows]
    names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
    ratings = {r[0]: r[1:] for r in (await session.execute(
        select(OfficerRating.officer_id, func.count(), func.avg(OfficerRating.attitude), func.avg(OfficerRating.skill))
        .where(OfficerRating.officer_id.in_(ids)).group_by(OfficerRating.officer_id))).all()}
    out = []
    for officer_id, cases, amount, overdue_count, approved, seconds in sorted(rows, key=lambda r: -r[1]):
        count, attitude, skill = ratings.get(officer_id, (0, None, None))
        out.append({"officer_id": officer_id, "officer": names.get(officer_id, str(officer_id)), "cases": cases,
                    "amount_fen": int(amount), "approved": int(approved or 0),
                    "overdue_rate": round((overdue_count or 0) / cases, 3) if cases else 0.0,
                    # from application to the case's latest action: how long the officer's cases take
                    "average_days": round(float(seconds or 0) / 86400, 1), "ratings": count,
                    "attitude": round(float(attitude), 2) if attitude is not None else None,
                    "skill": round(float(skill), 2) if skill is not None else None})
    return out


async def supervision(session: AsyncSession, scope: Scope, now: dt.datetime,
                      opened: list[tuple] | None = None) -> list[dict]:
    """Every open case by stage, office and the officer on it, with how many are late."""
    rows = opened if opened is not None else await open_cases(session, scope, now)
    offices = dict((await session.execute(select(Office.id, Office.name_zh))).all())
    people = dict((await session.execute(select(User.id, User.display_name).where(
        User.id.in_({r[2] for r in rows if r[2]})))).all())
    out = [{"stage": s, "office": offices.get(o, str(o)), "person": people.get(p, "—"), "cases": c,
            "late": int(l or 0)} for s, o, p, c, l, _amount in rows]
    return sorted(out, key=lambda r: (r["stage"], r["office"], r["person"]))


async def dashboard(session: AsyncSession, scope: Scope, now: dt.datetime, days: int = 365, definition=None) -> dict:
    period = Period.last_days(days, now)
    figures = await loan_figures(session, scope, period)
    opened = await open_cases(session, scope, now)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        **{f"by_{d}": figures[d] for d in DIMENSIONS},
        "overdue": await overdue(session, scope, now, opened=opened),
        "stage_times": await stage_times(session, scope, period, definition),
        "committee": await committee_turnaround(session, scope, period),
        "officers": await officer_performance(session, scope, period),
        "supervision": await supervision(session, scope, now, opened=opened),
    }
