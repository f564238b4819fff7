"""Post-loan check schedule: a first check 15–30 days after disbursement, then monthly or
quarterly, as the product's rule says."""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of month, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PostLoanSchedule:
    disbursed_on: dt.date
    first_check_from: dt.date
    first_check_by: dt.date
    interval_months: int

    def next_due(self, last_check_on: dt.date | None) -> dt.date:
        """When the next check is due, given the day of the last one (None: none done yet)."""
        if last_check_on is None:
            return self.first_check_by
        return add_months(last_check_on, self.interval_months)

    def due_dates(self, count: int) -> list[dt.date]:
        """The due dates of the first ``count`` checks if each is done on its due date.

        Counted from the first check, not chained, so month-end clamping does not drift."""
        return [add_months(self.first_check_by, k * self.interval_months) for k in range(count)]


def schedule(disbursed_on: dt.date, first_from_days: int, first_by_days: int, interval_months: int) -> PostLoanSchedule:
    return PostLoanSchedule(disbursed_on, disbursed_on + dt.timedelta(days=first_from_days),
                            disbursed_on + dt.timedelta(days=first_by_days), interval_months)
