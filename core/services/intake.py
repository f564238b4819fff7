"""The public side of intake: progress queries, feedback; and dispatch suggestions for the
intake head (派单: by region, amount and risk)."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..errors import NotFound
from ..loanflow import Workflow, credit_history
from ..orm import Customer, Feedback, Loan, LoanEvent, Office, User, UserRole
from ..scope import Scope

OPEN_WORK = ("investigation", "investigation_check")


async def progress(session: AsyncSession, workflow: Workflow, tracking_code: str, *,
                   id_number: str | None, phone: str | None) -> dict:
    """Progress of one application, for whoever holds its tracking code and the ID or phone."""
    loan = (await session.execute(select(Loan).where(Loan.tracking_code == tracking_code.strip().upper()))
            ).scalar_one_or_none()
    customer = await session.get(Customer, loan.customer_id) if loan else None
    matches = customer is not None and (
        (id_number and customer.id_number == id_number.strip().upper()) or (phone and customer.phone == phone.strip()))
    if not matches:
        # One answer for "no such code" and "wrong ID": the query reveals nothing without both.
        raise NotFound("no application matches this tracking code and ID number or phone")
    definition = await workflow.definition_of(session, loan.workflow_version)
    events = (await session.execute(select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id))).scalars()
    stage = definition.stages[loan.stage]
    return {
        "tracking_code": loan.tracking_code, "product": loan.product, "amount_fen": loan.amount_fen,
        "stage": loan.stage, "stage_zh": stage.name_zh, "stage_en": stage.name_en, "ended": stage.is_end,
        "reason": loan.closed_reason if loan.stage == "rejected" else "",
        "steps": [{"stage": e.to_stage, "stage_zh": definition.stages[e.to_stage].name_zh,
                   "stage_en": definition.stages[e.to_stage].name_en, "at": e.at.isoformat()}
                  for e in events if e.to_stage in definition.stages],
    }


async def leave_feedback(session: AsyncSession, body: dict) -> dict:
    """Feedback reaches the managers of the office handling the case (or head office)."""
    office_id = None
    if body.get("tracking_code"):
        loan = (await session.execute(select(Loan).where(Loan.tracking_code == body["tracking_code"].upper()))
                ).scalar_one_or_none()
        customer = await session.get(Customer, loan.customer_id) if loan else None
        if customer is None or customer.id_number != body.get("id_number", "").upper():
            raise NotFound("no application matches this tracking code and ID number")
        office_id, loan_id = loan.office_id, loan.id
    else:
        loan_id = None
    if office_id is None:
        office_id = (await session.execute(select(Office.id).where(Office.parent_id.is_(None)).limit(1))).scalar_one()
    feedback = Feedback(loan_id=loan_id, office_id=office_id, topic=body["topic"], text=body["text"],
                        contact=body.get("contact", ""))
    session.add(feedback)
    await session.flush()
    await audit.append(session, audit.Actor(None, "portal", "applicant", None), "feedback.create", "feedback",
                       feedback.id, {"topic": body["topic"]})
    return {"id": feedback.id, "received": True}


async def list_feedback(session: AsyncSession, scope: Scope) -> list[dict]:
    query = select(Feedback).order_by(Feedback.id.desc()).limit(200)
    if not scope.whole_bank:
        query = query.where(Feedback.office_id.in_(
            select(Office.id).where(Office.path.startswith(scope.principal.office_path))))
    return [{"id": f.id, "loan_id": f.loan_id, "office_id": f.office_id, "topic": f.topic, "text": f.text,
             "contact": f.contact, "created_at": f.created_at.isoformat()}
            for f in (await session.execute(query)).scalars()]


async def _officers(session: AsyncSession, office_id: int) -> list[tuple[User, int]]:
    """Loan officers of an office with their open investigations, least loaded first."""
    load = (select(func.count()).select_from(Loan)
            .where(Loan.stage.in_(OPEN_WORK), or_(Loan.officer_a_id == User.id, Loan.officer_b_id == User.id))
            .scalar_subquery())
    rows = (await session.execute(
        select(User, load).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "loan_officer", User.active, User.office_id == office_id)
        .order_by(load, User.id))).all()
    return [(user, count) for user, count in rows]


async def dispatch_suggestion(session: AsyncSession, workflow: Workflow, scope: Scope, loan_id: int,
                              region: str | None = None) -> dict:
    """Where the dispatch rules send a case; the intake head may choose otherwise."""
    loan = await scope.loan(session, loan_id)
    customer = await session.get(Customer, loan.customer_id)
    history = await credit_history(session, customer.id, excluding=loan.id)
    rules = workflow.rules.at(loan.created_at.date())
    large = rules.committee_for(loan.product, loan.amount_fen).kind == "large"
    risky = bool(history["rejections"] or history["overdue"])
    reasons, codes = [], []
    home = await session.get(Office, customer.office_id) if customer.office_id else None
    if history["loans"] and home is not None and not risky and not large:
        route, office = "credit_union", home
        reasons.append("existing customer: their own credit union")
        codes.append("existing_customer")
    else:
        route = "sub_center"
        centers = list((await session.execute(select(Office).where(Office.kind == "sub_center", Office.active)
                                               .order_by(Office.id))).scalars())
        if not centers:
            raise NotFound("no intake sub-center is set up")
        wanted = region or loan.region
        same_region = [c for c in centers if wanted and c.region == wanted]
        office = (same_region or centers)[0]
        if not same_region:
            # No region match: the sub-center with the least open work.
            loads = [(sum(n for _, n in await _officers(session, c.id)), c.id, c) for c in centers]
            office = min(loads)[2]
        reasons.append("new customer" if not history["loans"] else
                       ("large amount" if large else "risk history") + ": an intake sub-center's A/B pair")
        codes.append("new_customer" if not history["loans"] else ("large_amount" if large else "risk_history"))
    officers = await _officers(session, office.id)
    pair = [user for user, _ in officers[:2]]
    return {"route": route, "office_id": office.id, "office_name": office.name_zh,
            "office_name_en": office.name_en or office.name_zh, "reason_codes": codes,
            "officer_a": pair[0].id if pair else None, "officer_b": pair[1].id if len(pair) > 1 else None,
            "candidates": [{"id": u.id, "name": u.display_name, "open_cases": n} for u, n in officers],
            "reasons": reasons, "large_committee": large, "risky": risky}
