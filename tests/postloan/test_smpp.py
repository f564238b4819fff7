"""The SMPP gateway against a real SMPP server on a socket: delivery with receipts, Chinese
long messages, retries when the SMSC fails, nothing sent twice when the worker fails midway."""
import asyncio

import pytest
from sqlalchemy import select, update

from core.db import Database
from core.orm import OutboxMessage
from core.outbox import OutboxWorker, queue
from core.postloan.tables import SmsPart, SmsSubmission
from core.smpp import SmppConfigError, SmppGateway, SmppSettings, gateway_from_setting
from core.smsgateway import GatewayError, OutgoingMessage, LogGateway
from tests.postloan.smsc import Smsc
from tests.waiting import PATIENCE

LONG = "【农商银行】尊敬的张三，您的贷款ABCDEF将于3月20日结息，请提前存入足额资金。逾期将计收罚息并影响征信，如有疑问请联系您的客户经理。感谢您的支持！"


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'sms.sqlite3'}")
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def smsc():
    server = await Smsc().start()
    yield server
    if server.server.is_serving():
        await server.stop()


def gateway(db, smsc, **kw) -> SmppGateway:
    settings = SmppSettings("127.0.0.1", smsc.port, "bank", "secret", backoff_seconds=0.05, timeout_seconds=1.0, **kw)
    return SmppGateway(db, settings)


async def queued(db, *messages) -> list[int]:
    async with db.unit_of_work() as session:
        rows = [queue(session, template="t", text=text, phone=phone) for phone, text in messages]
        await session.flush()
        return [r.id for r in rows]


async def test_delivers_chinese_long_message_with_udh_and_receipt(db, smsc):
    gw = gateway(db, smsc)
    [mid] = await queued(db, ("8613800000001", LONG))
    assert await OutboxWorker(db, gw).drain_once() == 1
    assert smsc.texts() == [LONG]
    assert len(smsc.received) == -(-len(LONG) // 67) >= 2 and all(s.data_coding == 8 and s.esm_class & 0x40 for s in smsc.received)
    # The SMSC sends a receipt per part on its own; read until every one has come in.
    deadline = asyncio.get_running_loop().time() + PATIENCE
    stored = 0
    while stored < len(smsc.received) and asyncio.get_running_loop().time() < deadline:
        stored += await gw.poll_receipts()
        await asyncio.sleep(0.05)
    async with db.unit_of_work(write=False) as session:
        parts = (await session.execute(select(SmsPart).where(SmsPart.outbox_id == mid))).scalars().all()
        message = await session.get(OutboxMessage, mid)
    assert message.status == "sent" and message.gateway_reference == ",".join(p.message_id for p in parts)
    assert sorted(p.receipt_state for p in parts) == ["DELIVRD"] * len(smsc.received)
    await gw.close()


async def test_retries_when_the_smsc_throttles_or_is_down(db, smsc):
    gw = gateway(db, smsc)
    [mid] = await queued(db, ("8613800000002", "【农商银行】测试"))
    smsc.throttle_next = 1
    worker = OutboxWorker(db, gw)
    assert await worker.drain_once() == 0
    async with db.unit_of_work(write=False) as session:
        message = await session.get(OutboxMessage, mid)
        ledger = await session.get(SmsSubmission, mid)
    assert message.status == "pending" and "throttled" in message.last_error and ledger.state == "retry"
    # the outbox's back-off: not before its time
    assert await worker.drain_once() == 0
    await smsc.stop()
    async with db.unit_of_work() as session:
        await session.execute(update(OutboxMessage).values(not_before=OutboxMessage.created_at))
    assert await worker.drain_once() == 0  # the SMSC is down: connect retried with back-off, then given up
    async with db.unit_of_work(write=False) as session:
        assert "cannot bind" in (await session.get(OutboxMessage, mid)).last_error
    await smsc.start(smsc.port)
    async with db.unit_of_work() as session:
        await session.execute(update(OutboxMessage).values(not_before=OutboxMessage.created_at))
    assert await worker.drain_once() == 1
    assert smsc.texts() == ["【农商银行】测试"]
    await gw.close()


async def test_worker_dying_after_the_smsc_answered_sends_nothing_twice(db, smsc):
    gw = gateway(db, smsc)
    [mid] = await queued(db, ("8613800000003", "【农商银行】只发一次"))
    message = OutgoingMessage(mid, "8613800000003", None, "【农商银行】只发一次")
    first = await gw.send(message)  # the worker handed it over and died before marking it sent
    again = await gateway(db, smsc).send(message)  # a restarted worker hands it over again
    assert again == first and smsc.texts() == ["【农商银行】只发一次"]
    await gw.close()


async def test_lost_answer_is_uncertain_then_submitted_again(db, smsc):
    gw = gateway(db, smsc)
    [mid] = await queued(db, ("8613800000004", "【农商银行】应答丢失"))
    smsc.drop_next = 1
    with pytest.raises(GatewayError, match="connection lost"):
        await gw.send(OutgoingMessage(mid, "8613800000004", None, "【农商银行】应答丢失"))
    async with db.unit_of_work(write=False) as session:
        assert (await session.get(SmsSubmission, mid)).state == "uncertain"
    await gw.send(OutgoingMessage(mid, "8613800000004", None, "【农商银行】应答丢失"))
    assert smsc.texts() == ["【农商银行】应答丢失"]
    await gw.close()


async def test_per_number_rate_limit(db, smsc):
    gw = gateway(db, smsc, per_number_per_minute=2)
    ids = await queued(db, *[("8613800000005", f"第{n}条") for n in range(3)])
    for mid in ids[:2]:
        await gw.send(OutgoingMessage(mid, "8613800000005", None, "x"))
    with pytest.raises(GatewayError, match="rate limit"):
        await gw.send(OutgoingMessage(ids[2], "8613800000005", None, "x"))
    await gw.close()


def test_gateway_setting(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    assert isinstance(gateway_from_setting("log", db), LogGateway)
    gw = gateway_from_setting("smpp://bank:p%40ss@127.0.0.1:2775?rate=5", db)
    assert gw.settings.password == "p@ss" and gw.settings.per_number_per_minute == 5
    with pytest.raises(SmppConfigError, match="LOANCTL_SMS_GATEWAY"):
        gateway_from_setting("http://x", db)
    with pytest.raises(SmppConfigError, match="rate"):
        gateway_from_setting("smpp://a:b@h:1?rate=0", db)
