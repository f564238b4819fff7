"""Where notifications leave the system: the gateway interface and the default gateway.

A gateway must be idempotent on the message id: the outbox may hand the same message over
again after a crash between sending it and marking it sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database
from .orm import DeliveredMessage

log = logging.getLogger("loanctl.sms")


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    phone: str
    user_id: int | None
    text: str


class GatewayError(Exception):
    """The gateway could not take the message now; the outbox will try again later."""


class SmsGateway(Protocol):
    async def send(self, message: OutgoingMessage) -> str:
        """Hand over one message; return the gateway's reference for it."""


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class LogGateway:
    """The embedded default: writes each message to the log and the recipient's page."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def send(self, message: OutgoingMessage) -> str:
        async with self.db.unit_of_work() as session:
            if await session.get(DeliveredMessage, message.id) is None:
                session.add(DeliveredMessage(outbox_id=message.id, recipient_user_id=message.user_id,
                                             recipient_phone=message.phone, text=message.text))
        # Phone numbers are personal data: the log shows them masked.
        log.info("SMS #%s to %s: %s", message.id, mask_phone(message.phone), message.text)
        return f"log-{message.id}"


async def inbox(session: AsyncSession, *, user_id: int | None = None, phone: str | None = None,
                limit: int = 50) -> list[DeliveredMessage]:
    query = select(DeliveredMessage).order_by(DeliveredMessage.outbox_id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(DeliveredMessage.recipient_user_id == user_id)
    if phone is not None:
        query = query.where(DeliveredMessage.recipient_phone == phone)
    return list((await session.execute(query)).scalars())
