"""When a stage's work is due: hours on the clock, or working days (weekends and holidays skipped)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from .definition import Stage


def is_working_day(day: dt.date, holidays: frozenset[dt.date], workdays: frozenset[dt.date]) -> bool:
    # China moves working days onto weekends around public holidays (调休): those count as work.
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: dt.datetime, days: int, holidays: Iterable[dt.date] = (),
                     workdays: Iterable[dt.date] = ()) -> dt.datetime:
    """The same time of day ``days`` working days later."""
    off, on = frozenset(holidays), frozenset(workdays)
    current = start
    left = days
    while left > 0:
        current += dt.timedelta(days=1)
        if is_working_day(current.date(), off, on):
            left -= 1
    return current


def due_at(stage: Stage, entered: dt.datetime, holidays: Iterable[dt.date] = (),
           workdays: Iterable[dt.date] = ()) -> dt.datetime | None:
    if stage.deadline_hours is not None:
        return entered + dt.timedelta(hours=stage.deadline_hours)
    if stage.deadline_working_days is not None:
        return add_working_days(entered, stage.deadline_working_days, holidays, workdays)
    return None
