"""The dashboard's figures kept while nothing they read has changed.

Every state change writes an audit record in its own transaction (the project's rule), so the
newest audit record of a change (not of a read such as a sign-in) is a data version: figures computed at one
version are still true at the same version. They also depend on the clock (what is late,
the period's end), so a kept answer is used for at most `max_age` seconds. Read in the same
session as the figures (the replica's, when there is one), the version is the one the figures
were read at (a write that bypassed the use cases, so unaudited, shows within the minute).
Each process keeps its own small cache; nodes never share one, so none can serve
another's stale answer.
"""
from __future__ import annotations

import copy
import datetime as dt
from collections import OrderedDict
from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..orm import AuditRecord
from ..scope import Scope


# Audited actions that change nothing the figures read (sessions, reading the archive, joining a
# meeting's room, a fingerprint confirmation): a sign-in must not throw the figures away.
# Anything not listed counts as a change, so a new action can only cost a recomputation.
READS = ("login", "logout", "archive.read", "archive.search", "archive.export", "committee.join_token",
         "committee.attendance", "biometrics.step_up")


async def data_version(session: AsyncSession) -> int:
    """The newest audit record that may have changed data: walked back from the chain's head
    along its primary key, past the few reads since (a short walk)."""
    return (await session.execute(
        select(AuditRecord.seq).where(AuditRecord.action.not_in(READS))
        .order_by(AuditRecord.seq.desc()).limit(1))).scalar_one_or_none() or 0


class FiguresCache:
    def __init__(self, size: int = 64, max_age: float = 60.0) -> None:
        self.size = size
        self.max_age = dt.timedelta(seconds=max_age)
        self._kept: OrderedDict[tuple, tuple[int, dt.datetime, dict]] = OrderedDict()
        self.hits = self.misses = 0

    @staticmethod
    def scope_key(scope: Scope) -> tuple:
        # the figures depend on the reader only through the offices they cover (figures.offices_of)
        return ("bank",) if scope.whole_bank else ("subtree", scope.principal.office_path)

    async def get(self, session: AsyncSession, scope: Scope, now: dt.datetime, key: tuple,
                  compute: Callable[[], Awaitable[dict]]) -> dict:
        """The figures for (the reader's offices, `key`): kept ones if the data version is the
        same and they are fresh, else `compute()`'s. The caller gets its own copy to change."""
        full_key = (self.scope_key(scope), *key)
        version = await data_version(session)
        kept = self._kept.get(full_key)
        if kept is not None and kept[0] == version and dt.timedelta(0) <= now - kept[1] < self.max_age:
            self._kept.move_to_end(full_key)
            self.hits += 1
            return copy.deepcopy(kept[2])
        self.misses += 1
        value = await compute()
        self._kept[full_key] = (version, now, copy.deepcopy(value))
        self._kept.move_to_end(full_key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return value
