"""Reading loan cases within scope, the work queue, and notes on a case file."""
from __future__ import annotations

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit
from ..orm import Customer, Loan, LoanNote, User
from ..scope import Scope


def loan_view(loan: Loan, customer: Customer | None = None) -> dict:
    view = {"id": loan.id, "tracking_code": loan.tracking_code, "product": loan.product,
            "amount_fen": loan.amount_fen, "term_months": loan.term_months, "stage": loan.stage,
            "office_id": loan.office_id, "officer_a_id": loan.officer_a_id,
            "officer_b_id": loan.officer_b_id, "channel": loan.channel,
            "created_at": loan.created_at.isoformat(), "stage_entered_at": loan.stage_entered_at.isoformat(),
            "version": loan.version}
    if customer is not None:
        view["customer"] = {"id": customer.id, "name": customer.name}
    return view


async def list_loans(session: AsyncSession, scope: Scope, *, queue: bool = False, stage: str | None = None,
                     limit: int = 50, before_id: int | None = None) -> dict:
    """A page of loans, newest first, with keyset pagination.

    The scope is a union of conditions; each is asked for its newest `limit + 1` ids along one
    index and the pages are merged, so the cost follows the page size, not the table size.
    """
    branches = scope.queue_branches() if queue else scope.loan_branches()
    extra = [Loan.stage == stage] if stage is not None else []
    if before_id is not None:
        extra.append(Loan.id < before_id)
    pages = [select(Loan.id).where(branch, *extra).order_by(Loan.id.desc()).limit(limit + 1).subquery()
             for branch in branches]
    if not pages:
        return {"items": [], "next_before_id": None}
    # The merged ids are few (at most limit + 1 per branch): pick the page here, then load it
    # by primary key, which no planner gets wrong.
    found = (await session.execute(union_all(*(select(page.c.id) for page in pages)))).scalars()
    page_ids = sorted(set(found), reverse=True)[:limit + 1]
    query = (select(Loan, Customer).join(Customer, Customer.id == Loan.customer_id)
             .where(Loan.id.in_(page_ids)).order_by(Loan.id.desc()))
    rows = (await session.execute(query)).all()
    items = [loan_view(loan, customer) for loan, customer in rows[:limit]]
    return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}


async def get_loan(session: AsyncSession, scope: Scope, loan_id: int) -> dict:
    loan = await scope.loan(session, loan_id)
    customer = await session.get(Customer, loan.customer_id)
    view = loan_view(loan, customer)
    notes = (await session.execute(
        select(LoanNote, User.display_name).join(User, User.id == LoanNote.author_id)
        .where(LoanNote.loan_id == loan.id).order_by(LoanNote.id))).all()
    view["notes"] = [{"id": n.id, "author": name, "text": n.text, "created_at": n.created_at.isoformat()}
                     for n, name in notes]
    return view


async def add_note(session: AsyncSession, scope: Scope, loan_id: int, text: str) -> dict:
    loan = await scope.loan(session, loan_id, for_update=True)
    if loan.sender_id not in (None, scope.principal.user_id):
        # Someone took up the case at its stage: the sender can no longer pull it back.
        loan.stage_acted = True
    note = LoanNote(loan_id=loan.id, author_id=scope.principal.user_id, text=text)
    session.add(note)
    await session.flush()
    await audit.append(session, scope.principal.actor(), "loan.note", "loan", loan.id, {"text": text})
    return {"id": note.id, "text": note.text, "created_at": note.created_at.isoformat()}


async def count_loans(session: AsyncSession, scope: Scope, *, queue: bool = False) -> int:
    condition = scope.work_queue() if queue else scope.loans()
    return (await session.execute(select(func.count()).select_from(Loan).where(condition))).scalar_one()
