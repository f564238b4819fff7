"""A disbursed loan gets its calendar; a controlled clock produces exactly the expected
reminders and SMS, also across a restart of the scheduler (a new process on the same database)."""
import datetime as dt

from sqlalchemy import select

from core.db import Database
from core.orm import Customer, Loan, OutboxMessage, User
from core.postloan.scheduler import Scheduler
from core.postloan.tables import DueTask, ManagedLoan
from core.postloan.schedule import BANK_ZONE
from tests.postloan.helpers import disbursed, page

DISBURSED = dt.date(2026, 1, 5)


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), BANK_ZONE)


async def sent(db, loan_id):
    async with db.unit_of_work(write=False) as session:
        rows = (await session.execute(select(OutboxMessage.template, OutboxMessage.recipient_phone,
                                             OutboxMessage.recipient_user_id)
                                      .where(OutboxMessage.loan_id == loan_id,
                                             OutboxMessage.template.not_in(("loan_disbursed", "loan_active",
                                                                            "loan_closed")))
                                      .order_by(OutboxMessage.id))).all()
    return [r[0] for r in rows if r[0].split("_")[0] in ("interest", "maturity", "dunning", "inspection")]


async def test_disbursed_loan_gets_its_schedule_and_clock_drives_reminders(suite, tmp_path):
    walk = await disbursed(suite, DISBURSED)
    db = suite.services.db
    async with db.unit_of_work(write=False) as session:
        managed = await session.get(ManagedLoan, walk.loan_id)
        manager = (await session.execute(select(User).where(User.username == "postloan.cg"))).scalar_one()
        loan = await session.get(Loan, walk.loan_id)
        customer = await session.get(Customer, loan.customer_id)
        inspections = (await session.execute(select(DueTask.due_on).where(
            DueTask.loan_id == walk.loan_id, DueTask.kind == "inspection_due").order_by(DueTask.due_on))).scalars().all()
    assert loan.stage == "active"
    assert managed.manager_id == manager.id and managed.maturity_on == dt.date(2029, 1, 5)
    assert managed.outstanding_fen == 20_000_000 and managed.origin == "system"
    # personal_consumer: first check within 30 days, then quarterly
    assert inspections[:3] == [dt.date(2026, 2, 4), dt.date(2026, 5, 4), dt.date(2026, 8, 4)]

    first = Scheduler(db)
    done = await first.run_due(at("2026-03-18"))
    assert sorted((o.kind, o.due_on.isoformat()) for o in done if o.status == "sent") == [
        ("inspection_due", "2026-02-04"), ("interest_notice", "2026-03-20"), ("interest_reminder", "2026-03-20")]
    assert await first.run_due(at("2026-03-18")) == []

    # A restart: a new engine and scheduler on the same database neither repeats nor skips.
    restarted_db = Database(db.url)
    try:
        again = Scheduler(restarted_db)
        assert await again.run_due(at("2026-03-18", 13)) == []
        done = await again.run_due(at("2026-03-28"))
        assert [(o.kind, o.status) for o in done] == [
            ("interest_due", "sent"), ("interest_overdue_1", "sent"), ("interest_overdue_2", "sent")]
    finally:
        await restarted_db.close()

    # The customer pays the March interest: the last dunning step for it is not sent.
    manager_client = await suite.login("postloan.cg")
    await manager_client.json("POST", f"/api/postloan/loans/{walk.loan_id}/records", {
        "kind": "repayment_proof", "on_day": "2026-03-29", "covers_due_on": "2026-03-20", "amount_fen": 0,
        "summary": "三月结息已付", "pages": [page()]}, expect=201)
    done = await Scheduler(db).run_due(at("2026-04-20"))
    assert [(o.kind, o.status) for o in done] == [("interest_overdue_3", "skipped")]

    messages = await sent(db, walk.loan_id)
    assert messages == ["inspection_due_manager", "interest_reminder_manager", "interest_notice_customer",
                        "interest_due_customer", "dunning_overdue_1", "dunning_overdue_2"]
    async with db.unit_of_work(write=False) as session:
        rows = (await session.execute(select(OutboxMessage).where(
            OutboxMessage.loan_id == walk.loan_id, OutboxMessage.template == "dunning_overdue_2"))).scalars().all()
    assert len(rows) == 1 and rows[0].recipient_phone == customer.phone and "逾期" in rows[0].text
