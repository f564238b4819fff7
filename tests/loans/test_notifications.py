"""Notifications: queued with the change, drained by the worker, never twice, never lost."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core import deadlines
from core.orm import DeliveredMessage, Loan, OutboxMessage
from core.outbox import OutboxWorker
from core.smsgateway import GatewayError, LogGateway
from tests.loans.walk import Walk


async def _count(suite, model, *where) -> int:
    async with suite.services.db.unit_of_work(write=False) as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_stages_queue_customer_and_staff_messages(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    async with suite.services.db.unit_of_work(write=False) as session:
        messages = (await session.execute(select(OutboxMessage).where(OutboxMessage.loan_id == walk.loan_id)
                                          .order_by(OutboxMessage.id))).scalars().all()
    templates = [m.template for m in messages]
    assert "application_received" in templates           # customer: accepted
    assert "investigation_scheduled" in templates        # customer: investigation
    assert templates.count("case_assigned") == 2         # officers A and B
    officers = {m.recipient_user_id for m in messages if m.template == "case_assigned"}
    assert officers == {walk.users["officer.e.a"], walk.users["officer.e.b"]}
    assert any(m.template == "step_waiting" and m.recipient_user_id == walk.users["intake.head"] for m in messages)


async def test_worker_delivers_each_message_once_to_the_recipients_page(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("investigation")
    pending = await _count(suite, OutboxMessage, OutboxMessage.status == "pending")
    worker = OutboxWorker(suite.services.db, LogGateway(suite.services.db))
    assert await worker.drain_once() == pending
    assert await worker.drain_once() == 0
    assert await _count(suite, DeliveredMessage) == pending
    officer = await walk.as_("officer.e.a")
    inbox = await officer.json("GET", "/api/messages")
    assert any("分派给您" in m["text"] for m in inbox["items"])


class _CrashAfterSend(LogGateway):
    """Hands the message over, then dies before the worker can mark it sent."""

    async def send(self, message):
        await super().send(message)
        raise SystemExit("worker killed mid-batch")


async def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("dispatch")
    total = await _count(suite, OutboxMessage)
    crashing = OutboxWorker(suite.services.db, _CrashAfterSend(suite.services.db), batch=10, lease_seconds=30)
    try:
        await crashing.drain_once()
    except SystemExit:
        pass
    assert await _count(suite, DeliveredMessage) == 1
    # The message is leased, not sent: a new worker waits out the lease, then hands it over again.
    fresh = OutboxWorker(suite.services.db, LogGateway(suite.services.db))
    now = dt.datetime.now(dt.timezone.utc)
    sent_now = await fresh.drain_once(now)
    sent_later = await fresh.drain_once(now + dt.timedelta(seconds=31))
    assert sent_now + sent_later == total
    assert await _count(suite, DeliveredMessage) == total
    assert await _count(suite, OutboxMessage, OutboxMessage.status == "sent") == total


class _Down:
    async def send(self, message):
        raise GatewayError("carrier unreachable")


async def test_gateway_failures_are_retried_with_backoff(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    failing = OutboxWorker(suite.services.db, _Down())
    assert await failing.drain_once() == 0
    async with suite.services.db.unit_of_work(write=False) as session:
        message = (await session.execute(select(OutboxMessage).limit(1))).scalar_one()
    assert message.status == "pending" and message.attempts == 1 and "unreachable" in message.last_error
    assert message.not_before > dt.datetime.now(dt.timezone.utc)
    worker = OutboxWorker(suite.services.db, LogGateway(suite.services.db))
    assert await worker.drain_once() == 0                    # not before its back-off
    assert await worker.drain_once(message.not_before + dt.timedelta(seconds=1)) >= 1


async def test_deadline_warnings_once_per_stage_entry(suite):
    walk = await Walk(suite).start()
    await walk.apply()
    await walk.walk_to("review")
    async with suite.services.db.unit_of_work() as session:
        loan = await session.get(Loan, walk.loan_id)
        assert loan.due_at is not None
        late = loan.due_at - dt.timedelta(hours=1)
        first = await deadlines.queue_warnings(session, suite.services.workflow, now=late)
    async with suite.services.db.unit_of_work() as session:
        second = await deadlines.queue_warnings(session, suite.services.workflow, now=late)
    assert first >= 1 and second == 0
    async with suite.services.db.unit_of_work(write=False) as session:
        warned = (await session.execute(select(OutboxMessage.recipient_user_id).where(
            OutboxMessage.template == "deadline_near"))).scalars().all()
    assert walk.users["reviewer"] in warned
