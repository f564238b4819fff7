"""The outbox: notifications written with the change they report, sent by a worker.

A message is claimed with a lease before it is handed to the gateway. If the worker stops
mid-batch, the lease runs out and the message is handed over again; the gateway's idempotency
on the message id keeps that from reaching the recipient twice. Nothing is marked sent
before the gateway has taken it, so nothing is lost.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db import DatabaseUnavailable
from .db import Database
from .orm import OutboxMessage, utcnow
from .smsgateway import GatewayError, OutgoingMessage, SmsGateway

log = logging.getLogger("loanctl.outbox")


def queue(session: AsyncSession, *, template: str, text: str, loan_id: int | None = None,
          user_id: int | None = None, phone: str = "", name: str = "",
          not_before: dt.datetime | None = None, now: dt.datetime | None = None) -> OutboxMessage:
    """Queue one message in the caller's transaction."""
    now = now or utcnow()
    message = OutboxMessage(loan_id=loan_id, recipient_user_id=user_id, recipient_phone=phone,
                            recipient_name=name[:100], template=template, text=text, created_at=now,
                            not_before=not_before or now)
    session.add(message)
    return message


@dataclass
class OutboxWorker:
    db: Database
    gateway: SmsGateway
    batch: int = 50
    lease_seconds: int = 60
    max_attempts: int = 8

    async def drain_once(self, now: dt.datetime | None = None) -> int:
        """Send what is due; return how many messages the gateway took."""
        claimed = await self._claim(now or utcnow())
        sent = 0
        for message in claimed:
            try:
                reference = await self.gateway.send(message)
            except GatewayError as error:
                await self._failed(message.id, str(error))
                continue
            await self._sent(message.id, reference)
            sent += 1
        return sent

    async def _claim(self, now: dt.datetime) -> list[OutgoingMessage]:
        async with self.db.unit_of_work() as session:
            due = (await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.not_before <= now,
                    or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
                .order_by(OutboxMessage.id).limit(self.batch).with_for_update(skip_locked=True))).scalars().all()
            lease = now + dt.timedelta(seconds=self.lease_seconds)
            for message in due:
                message.status, message.claimed_until = "sending", lease
                message.attempts += 1
            return [OutgoingMessage(m.id, m.recipient_phone, m.recipient_user_id, m.text) for m in due]

    async def _sent(self, message_id: int, reference: str) -> None:
        async with self.db.unit_of_work() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
                status="sent", sent_at=utcnow(), gateway_reference=reference[:100], claimed_until=None))

    async def _failed(self, message_id: int, error: str) -> None:
        async with self.db.unit_of_work() as session:
            message = await session.get(OutboxMessage, message_id)
            message.last_error = error[:2000]
            message.claimed_until = None
            if message.attempts >= self.max_attempts:
                message.status = "failed"
                log.warning("outbox message %s failed for good: %s", message_id, error)
            else:
                message.status = "pending"
                message.not_before = utcnow() + dt.timedelta(seconds=min(3600, 5 * 2 ** message.attempts))

    async def run(self, interval: float = 1.0) -> None:
        """Drain forever (the application's background task)."""
        while True:
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except DatabaseUnavailable:
                pass  # the database logs an outage once; the next round tries again
            except Exception:
                log.exception("outbox drain failed; will retry")
            await asyncio.sleep(interval)
