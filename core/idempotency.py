"""Idempotent retries (Stripe's model): the first answer to a key is stored with the change.

The stored answer is written in the same transaction as the command, so "done" and "answer
stored" cannot part: a retry after a lost response finds the answer, never a second change.
The same key with a different request is an error; keys are kept at least 24 hours.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import web
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from .audit import canonical_json
from .db import Database
from .errors import Conflict, InvalidInput
from .orm import IdempotencyRecord, utcnow
from .orm_errors import is_lost_race

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
RETENTION = dt.timedelta(hours=48)


@dataclass(frozen=True)
class IdempotencyKey:
    owner: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, request: web.Request, owner: str, body: Any) -> "IdempotencyKey | None":
        key = request.headers.get(HEADER)
        if key is None:
            return None
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(f"{HEADER} must have 1 to {MAX_KEY_LENGTH} characters")
        fingerprint = hashlib.sha256(
            f"{request.method} {request.path}\n".encode() + canonical_json(body)).hexdigest()
        return cls(owner[:80], key, fingerprint)

    async def stored(self, session: AsyncSession) -> tuple[int, Any] | None:
        record = await session.get(IdempotencyRecord, (self.owner, self.key))
        if record is None:
            return None
        if record.fingerprint != self.fingerprint:
            raise InvalidInput(f"this {HEADER} was used for a different request",
                               code="idempotency_key_reused")
        return record.status, json.loads(record.body)

    def store(self, session: AsyncSession, status: int, body: Any) -> None:
        session.add(IdempotencyRecord(owner=self.owner, key=self.key, fingerprint=self.fingerprint,
                                      status=status, body=json.dumps(body, ensure_ascii=False)))


Work = Callable[[AsyncSession], Awaitable[tuple[int, Any]]]


async def run_once(db: Database, key: IdempotencyKey | None, work: Work) -> web.Response:
    """Run `work` in one unit of work, or replay the answer stored under `key`."""
    try:
        async with db.unit_of_work() as session:
            if key is not None:
                replay = await key.stored(session)
                if replay is not None:
                    return _respond(*replay, replayed=True)
            status, body = await work(session)
            if key is not None:
                key.store(session, status, body)
        return _respond(status, body)
    except Exception as error:
        # Without a key a lost race is the caller's 409 (the error middleware says so).
        if key is None or not is_lost_race(error):
            raise
    # A concurrent request with the same key won the race: answer what it stored.
    async with db.unit_of_work(write=False) as session:
        replay = await key.stored(session)
    if replay is None:
        raise Conflict("a request with this Idempotency-Key is still being processed; retry shortly")
    return _respond(*replay, replayed=True)


def _respond(status: int, body: Any, *, replayed: bool = False) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return web.json_response(body, status=status, headers=headers)


async def expire(session: AsyncSession, now: dt.datetime | None = None) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < (now or utcnow()) - RETENTION))
    return result.rowcount or 0
