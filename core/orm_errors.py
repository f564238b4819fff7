"""Recognising a transaction that lost a race, whatever the database said."""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .db import is_conflict


def is_lost_race(error: BaseException) -> bool:
    """Another transaction changed the same rows first (optimistic version check, unique key,
    serialization failure or a busy SQLite file)."""
    if isinstance(error, (StaleDataError, IntegrityError)):
        return True
    return isinstance(error, DBAPIError) and is_conflict(error)
