"""The loan calendar as plain dates (no database)."""
import datetime as dt

import pytest

from core.postloan.schedule import Cadence, build_calendar, interest_dates
from core.rules.post_loan import schedule


def test_quarterly_interest_inspections_and_maturity():
    checks = schedule(dt.date(2026, 1, 5), 15, 30, 3)
    cal = build_calendar(dt.date(2026, 1, 5), 12, checks)
    assert cal.maturity_on == dt.date(2027, 1, 5)
    assert cal.interest_dates == (dt.date(2026, 3, 20), dt.date(2026, 6, 20), dt.date(2026, 9, 20),
                                  dt.date(2026, 12, 20))
    assert cal.inspection_dates == (dt.date(2026, 2, 4), dt.date(2026, 5, 4), dt.date(2026, 8, 4),
                                    dt.date(2026, 11, 4))
    kinds = {(i.kind, i.due_on) for i in cal.items}
    assert ("interest_overdue_3", dt.date(2026, 3, 20)) in kinds and ("maturity_due", dt.date(2027, 1, 5)) in kinds
    first = [i for i in cal.items if i.due_on == dt.date(2026, 3, 20)]
    # 9:00 in the bank's zone is 01:00 UTC; the manager hears 5 days ahead, the customer 3.
    assert {i.kind: i.run_at for i in first}["interest_reminder"] == dt.datetime(2026, 3, 15, 1, tzinfo=dt.timezone.utc)
    assert {i.kind: i.run_at for i in first}["interest_notice"] == dt.datetime(2026, 3, 17, 1, tzinfo=dt.timezone.utc)
    assert len(cal.items) == len({(i.kind, i.due_on) for i in cal.items}), "keys must be unique"


def test_notices_before_disbursement_are_dropped():
    cal = build_calendar(dt.date(2026, 3, 18), 6, schedule(dt.date(2026, 3, 18), 15, 30, 1))
    march = {i.kind for i in cal.items if i.due_on == dt.date(2026, 3, 20)}
    assert march == {"interest_due", "interest_overdue_1", "interest_overdue_2", "interest_overdue_3"}


def test_monthly_interest_cadence_and_bad_values():
    assert interest_dates(dt.date(2026, 1, 25), dt.date(2026, 4, 25), Cadence(interest_months=tuple(range(1, 13)))) == [
        dt.date(2026, 2, 20), dt.date(2026, 3, 20), dt.date(2026, 4, 20)]
    with pytest.raises(ValueError, match="interest_day"):
        Cadence(interest_day=31)
    with pytest.raises(ValueError, match="term_months"):
        build_calendar(dt.date(2026, 1, 1), 0, schedule(dt.date(2026, 1, 1), 15, 30, 3))
