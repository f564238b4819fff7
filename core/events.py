"""What happened to a loan, as core announces it to whoever the composition root subscribed.

Events are plain records. Handlers run in the unit of work of the command that raised the
event (the same transaction: its effects commit or roll back with the command); an effect
that leaves the process (an SMS, another node) is written to the outbox from the handler, as
every notification is, so each service can run on its own node.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class LoanDisbursed:
    """The loan reached stage `active`: the money is out, post-loan management begins."""

    loan_id: int
    payload: Mapping[str, Any]  # the disbursing command's payload (disbursed_on, amount, ...)
    at: dt.datetime


@dataclass(frozen=True)
class LoanClosed:
    """The case ended (rejected, withdrawn, repaid and closed...): `reason` as stored on the loan."""

    loan_id: int
    stage: str
    reason: str
    at: dt.datetime


Event = LoanDisbursed | LoanClosed
Handler = Callable[[AsyncSession, Any], Awaitable[None]]


@dataclass
class EventHandlers:
    """Which handlers hear which event, in the order they were subscribed."""

    handlers: dict[type, list[Handler]] = field(default_factory=dict)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    async def publish(self, session: AsyncSession, event: Event) -> None:
        for handler in self.handlers.get(type(event), ()):
            await handler(session, event)
