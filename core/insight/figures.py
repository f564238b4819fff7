"""Live figures for management, each one aggregate query narrowed by the caller's scope.

Grouping is done in the database (GROUP BY over indexed columns), so a dashboard reads a few
hundred rows whatever the number of loans.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import String, and_, case, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import Loan, LoanEvent, Office, User
from ..scope import Scope
from ..postloan.tables import ManagedLoan, OfficerRating

APPROVALS = ("committee_decision", "issue_approval_notice")
REJECTED_STAGE = "rejected"
COMMITTEE_STAGES = ("committee", "committee_meeting")


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def last_days(cls, days: int, now: dt.datetime) -> "Period":
        return cls(now - dt.timedelta(days=days), now)


def _counting(scope: Scope):
    """Loans that count: visible to the scope, and not an imported loan still waiting for its check."""
    unchecked = select(ManagedLoan.loan_id).where(ManagedLoan.checked.is_(False))
    return and_(scope.loans(), Loan.id.not_in(unchecked))


async def by_dimension(session: AsyncSession, scope: Scope, period: Period, dimension: str) -> list[dict]:
    """Applications, approvals, rejections and amounts by stage, product, office or month."""
    columns = {"stage": Loan.stage, "product": Loan.product, "office": Loan.office_id,
               "month": func.substr(cast(Loan.created_at, String), 1, 7)}
    if dimension not in columns:
        raise ValueError(f"dimension must be one of {', '.join(columns)}")
    key = columns[dimension]
    approved = Loan.stage.in_(("signing", "payment_first_review", "payment_second_review", "compliance_review",
                               "disbursement", "active", "closed"))
    query = (select(key.label("key"), func.count().label("applications"),
                    func.sum(case((approved, 1), else_=0)).label("approved"),
                    func.sum(case((Loan.stage == REJECTED_STAGE, 1), else_=0)).label("rejected"),
                    func.coalesce(func.sum(Loan.amount_fen), 0).label("amount_fen"))
             .where(_counting(scope), Loan.created_at >= period.start, Loan.created_at < period.end)
             .group_by(key).order_by(key))
    rows = (await session.execute(query)).all()
    names = {}
    if dimension == "office":
        names = dict((await session.execute(select(Office.id, Office.name_zh))).all())
    return [{"key": names.get(r.key, r.key) if names else r.key, "applications": r.applications,
             "approved": int(r.approved or 0), "rejected": int(r.rejected or 0), "amount_fen": int(r.amount_fen)}
            for r in rows]


async def overdue(session: AsyncSession, scope: Scope, now: dt.datetime, *, limit: int = 200) -> dict:
    """Cases past their stage deadline (by stage, office and person), and post-loan arrears."""
    late = and_(_counting(scope), Loan.due_at.is_not(None), Loan.due_at < now)
    by_stage = (await session.execute(select(Loan.stage, func.count(), func.sum(Loan.amount_fen))
                                      .where(late).group_by(Loan.stage).order_by(Loan.stage))).all()
    cases = (await session.execute(
        select(Loan.id, Loan.tracking_code, Loan.stage, Loan.office_id, Office.name_zh, Loan.due_at, Loan.amount_fen,
               User.display_name)
        .join(Office, Office.id == Loan.office_id).outerjoin(User, User.id == Loan.sender_id)
        .where(late).order_by(Loan.due_at).limit(limit))).all()
    arrears = (await session.execute(
        select(func.count(), func.coalesce(func.sum(ManagedLoan.outstanding_fen), 0))
        .join(Loan, Loan.id == ManagedLoan.loan_id)
        .where(_counting(scope), ManagedLoan.status == "active", ManagedLoan.maturity_on < now.date()))).one()
    return {
        "by_stage": [{"stage": s, "count": c, "amount_fen": int(a or 0)} for s, c, a in by_stage],
        "cases": [{"loan_id": r.id, "tracking_code": r.tracking_code, "stage": r.stage, "office": r.name_zh,
                   "due_at": r.due_at.isoformat(), "late_hours": round((now - r.due_at).total_seconds() / 3600, 1),
                   "amount_fen": r.amount_fen, "waiting_on": r.display_name or "—"} for r in cases],
        "past_maturity": {"count": arrears[0], "outstanding_fen": int(arrears[1])},
    }


async def stage_times(session: AsyncSession, scope: Scope, period: Period) -> list[dict]:
    """Time spent in each stage (from entering it to leaving it), from the command record."""
    entered = LoanEvent.__table__.alias("entered")
    left = LoanEvent.__table__.alias("left_")
    # The event that left a stage is the next event of the loan whose from_stage is that stage.
    duration = func.avg(_seconds(left.c.at) - _seconds(entered.c.at))
    query = (select(entered.c.to_stage, func.count(), duration)
             .select_from(entered.join(left, and_(left.c.loan_id == entered.c.loan_id,
                                                   left.c.from_stage == entered.c.to_stage,
                                                   left.c.id > entered.c.id)))
             .join(Loan, Loan.id == entered.c.loan_id)
             .where(_counting(scope), entered.c.at >= period.start, entered.c.at < period.end)
             .group_by(entered.c.to_stage).order_by(entered.c.to_stage))
    rows = (await session.execute(query)).all()
    return [{"stage": s, "count": c, "average_hours": round(float(avg or 0) / 3600, 2)} for s, c, avg in rows]


def _seconds(column):
    """Seconds since the epoch of a timestamp column, on SQLite and PostgreSQL."""
    return extract("epoch", column)


async def committee_turnaround(session: AsyncSession, scope: Scope, period: Period) -> dict:
    """From convening to the committee's decision, over decisions in the period."""
    convened = LoanEvent.__table__.alias("convened")
    decided = LoanEvent.__table__.alias("decided")
    row = (await session.execute(
        select(func.count(), func.avg(_seconds(decided.c.at) - _seconds(convened.c.at)))
        .select_from(convened.join(decided, and_(decided.c.loan_id == convened.c.loan_id,
                                                  decided.c.action == "committee_decision",
                                                  decided.c.id > convened.c.id)))
        .join(Loan, Loan.id == convened.c.loan_id)
        .where(convened.c.action == "convene_committee", _counting(scope),
               decided.c.at >= period.start, decided.c.at < period.end))).one()
    return {"decisions": row[0], "average_hours": round(float(row[1] or 0) / 3600, 2)}


async def officer_performance(session: AsyncSession, scope: Scope, period: Period) -> list[dict]:
    """Per loan officer (as officer A): cases, amounts, time, overdue rate, customer ratings."""
    now = period.end
    late = case((and_(Loan.due_at.is_not(None), Loan.due_at < now), 1), else_=0)
    rows = (await session.execute(
        select(User.id, User.display_name, func.count(Loan.id), func.coalesce(func.sum(Loan.amount_fen), 0),
               func.sum(late), func.avg(_seconds(Loan.updated_at) - _seconds(Loan.created_at)))
        .join(Loan, Loan.officer_a_id == User.id)
        .where(_counting(scope), Loan.created_at >= period.start, Loan.created_at < period.end)
        .group_by(User.id, User.display_name).order_by(func.count(Loan.id).desc()))).all()
    ratings = dict((r[0], (r[1], r[2], r[3])) for r in (await session.execute(
        select(OfficerRating.officer_id, func.count(), func.avg(OfficerRating.attitude), func.avg(OfficerRating.skill))
        .group_by(OfficerRating.officer_id))).all())
    out = []
    for user_id, name, cases, amount, overdue_count, seconds in rows:
        count, attitude, skill = ratings.get(user_id, (0, None, None))
        out.append({"officer_id": user_id, "officer": name, "cases": cases, "amount_fen": int(amount),
                    "overdue_rate": round((overdue_count or 0) / cases, 3) if cases else 0.0,
                    "average_days": round(float(seconds or 0) / 86400, 1), "ratings": count,
                    "attitude": round(float(attitude), 2) if attitude is not None else None,
                    "skill": round(float(skill), 2) if skill is not None else None})
    return out


async def supervision(session: AsyncSession, scope: Scope, now: dt.datetime) -> list[dict]:
    """Every open case by stage, office and the person it waits on, with how many are late."""
    late = case((and_(Loan.due_at.is_not(None), Loan.due_at < now), 1), else_=0)
    rows = (await session.execute(
        select(Loan.stage, Office.name_zh, User.display_name, func.count(), func.sum(late))
        .join(Office, Office.id == Loan.office_id).outerjoin(User, User.id == Loan.officer_a_id)
        .where(_counting(scope), Loan.stage.not_in(("closed", "rejected", "withdrawn")))
        .group_by(Loan.stage, Office.name_zh, User.display_name)
        .order_by(Loan.stage, Office.name_zh, User.display_name))).all()
    return [{"stage": s, "office": o, "person": p or "—", "cases": c, "late": int(l or 0)} for s, o, p, c, l in rows]


async def dashboard(session: AsyncSession, scope: Scope, now: dt.datetime, days: int = 365) -> dict:
    period = Period.last_days(days, now)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "by_stage": await by_dimension(session, scope, period, "stage"),
        "by_product": await by_dimension(session, scope, period, "product"),
        "by_office": await by_dimension(session, scope, period, "office"),
        "by_month": await by_dimension(session, scope, period, "month"),
        "overdue": await overdue(session, scope, now),
        "stage_times": await stage_times(session, scope, period),
        "committee": await committee_turnaround(session, scope, period),
        "officers": await officer_performance(session, scope, period),
        "supervision": await supervision(session, scope, now),
    }
