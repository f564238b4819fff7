"""The post-loan calendar of one loan, as plain dates: interest dates, maturity, inspections,
and the reminders and dunning steps that hang off them.

Pure domain code: it turns (disbursement day, term, product rules, cadence) into due items.
The service layer stores each item as one row keyed (loan, kind, due date), which is what lets
the scheduler survive restarts.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..rules.post_loan import PostLoanSchedule, add_months

BANK_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class DunningStep:
    """One rung of the dunning ladder: how many days after the due date, and its SMS template."""

    days_after: int
    template: str


@dataclass(frozen=True)
class Cadence:
    """When interest falls due and how far ahead people are told.

    Rural banks settle interest quarterly on the 20th of the quarter's last month (按季结息);
    the defaults follow that. The rule tables do not carry these yet, so they live here.
    """

    interest_months: tuple[int, ...] = (3, 6, 9, 12)
    interest_day: int = 20
    manager_notice_days: int = 5        # reminder to the post-loan manager
    customer_notice_days: int = 3       # SMS to the customer ahead of a payment
    maturity_manager_notice_days: int = 30
    maturity_customer_notice_days: int = 7
    send_hour: int = 9                  # local time of the bank
    dunning: tuple[DunningStep, ...] = field(default_factory=lambda: (
        DunningStep(1, "dunning_overdue_1"), DunningStep(7, "dunning_overdue_2"),
        DunningStep(30, "dunning_overdue_3")))

    def __post_init__(self) -> None:
        if not self.interest_months or any(m not in range(1, 13) for m in self.interest_months):
            raise ValueError("interest_months must be months 1 to 12")
        if not 1 <= self.interest_day <= 28:
            raise ValueError("interest_day must be 1 to 28 (it must exist in every month)")
        days = [s.days_after for s in self.dunning]
        if days != sorted(set(days)) or any(d < 1 for d in days):
            raise ValueError("dunning steps must be at distinct, increasing days after the due date")


# Who a due item speaks to: the post-loan manager (a page/SMS notice) or the customer (SMS).
MANAGER, CUSTOMER = "manager", "customer"


@dataclass(frozen=True, order=True)
class DueItem:
    run_at: dt.datetime           # when the scheduler acts (UTC)
    kind: str                     # unique with (loan, due_on)
    due_on: dt.date               # the payment / inspection / maturity day it is about
    audience: str
    template: str
    # Dunning after the due date is sent only while the payment is still open.
    only_if_unpaid: bool = False


@dataclass(frozen=True)
class LoanCalendar:
    disbursed_on: dt.date
    maturity_on: dt.date
    interest_dates: tuple[dt.date, ...]
    inspection_dates: tuple[dt.date, ...]
    items: tuple[DueItem, ...]


def local_time(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BANK_ZONE).astimezone(dt.timezone.utc)


def interest_dates(disbursed_on: dt.date, maturity_on: dt.date, cadence: Cadence) -> list[dt.date]:
    """Interest dates strictly after disbursement, before maturity; the maturity day settles the rest."""
    dates = []
    year, month = disbursed_on.year, disbursed_on.month
    while True:
        if month in cadence.interest_months:
            day = dt.date(year, month, cadence.interest_day)
            if day >= maturity_on:
                break
            if day > disbursed_on:
                dates.append(day)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return dates


def inspection_dates(checks: PostLoanSchedule, maturity_on: dt.date) -> list[dt.date]:
    """The first check by the rule's day limit, then every interval, while the loan runs."""
    dates = []
    k = 0
    while True:
        day = add_months(checks.first_check_by, k * checks.interval_months)
        if day > maturity_on:
            return dates
        dates.append(day)
        k += 1


def build_calendar(disbursed_on: dt.date, term_months: int, checks: PostLoanSchedule,
                   cadence: Cadence = Cadence(), *, maturity_on: dt.date | None = None) -> LoanCalendar:
    if term_months < 1:
        raise ValueError(f"term_months must be at least 1, got {term_months}")
    maturity_on = maturity_on or add_months(disbursed_on, term_months)
    if maturity_on <= disbursed_on:
        raise ValueError(f"maturity {maturity_on} must come after disbursement {disbursed_on}")
    hour = cadence.send_hour
    items: list[DueItem] = []

    def payment(day: dt.date, prefix: str, manager_days: int, customer_days: int) -> None:
        items.append(DueItem(local_time(day - dt.timedelta(days=manager_days), hour), f"{prefix}_reminder", day,
                             MANAGER, f"{prefix}_reminder_manager"))
        items.append(DueItem(local_time(day - dt.timedelta(days=customer_days), hour), f"{prefix}_notice", day,
                             CUSTOMER, f"{prefix}_notice_customer"))
        items.append(DueItem(local_time(day, hour), f"{prefix}_due", day, CUSTOMER, f"{prefix}_due_customer",
                             only_if_unpaid=True))
        for n, step in enumerate(cadence.dunning, start=1):
            items.append(DueItem(local_time(day + dt.timedelta(days=step.days_after), hour), f"{prefix}_overdue_{n}",
                                 day, CUSTOMER, step.template, only_if_unpaid=True))

    interest = interest_dates(disbursed_on, maturity_on, cadence)
    for day in interest:
        payment(day, "interest", cadence.manager_notice_days, cadence.customer_notice_days)
    payment(maturity_on, "maturity", cadence.maturity_manager_notice_days, cadence.maturity_customer_notice_days)
    inspections = inspection_dates(checks, maturity_on)
    for day in inspections:
        items.append(DueItem(local_time(day, hour), "inspection_due", day, MANAGER, "inspection_due_manager"))
    # Notices that would fall before the loan existed are dropped, not sent late on day one.
    start = local_time(disbursed_on, 0)
    items = [i for i in items if i.run_at >= start]
    return LoanCalendar(disbursed_on, maturity_on, tuple(interest), tuple(inspections), tuple(sorted(items)))


TEMPLATES = {
    "interest_reminder_manager": "【{bank}】贷款{code}（{customer}）将于{due}结息，请提前提醒客户备足资金。",
    "interest_notice_customer": "【{bank}】尊敬的{customer}，您的贷款{code}将于{due}结息，请提前存入足额资金。",
    "interest_due_customer": "【{bank}】尊敬的{customer}，您的贷款{code}今日（{due}）结息，请确保账户余额充足。",
    "maturity_reminder_manager": "【{bank}】贷款{code}（{customer}）将于{due}到期，请跟进还款安排。",
    "maturity_notice_customer": "【{bank}】尊敬的{customer}，您的贷款{code}将于{due}到期，请按时归还本息。",
    "maturity_due_customer": "【{bank}】尊敬的{customer}，您的贷款{code}今日（{due}）到期，请及时归还本息。",
    "dunning_overdue_1": "【{bank}】尊敬的{customer}，您的贷款{code}应于{due}还款，目前已逾期，请尽快归还。",
    "dunning_overdue_2": "【{bank}】催收通知：{customer}，您的贷款{code}自{due}起逾期未还，逾期将计收罚息并影响征信，请立即还款。",
    "dunning_overdue_3": "【{bank}】严重逾期提示：{customer}，您的贷款{code}自{due}起逾期已超过30天，本行将依法催收，请立即与客户经理联系。",
    "inspection_due_manager": "【{bank}】贷款{code}（{customer}）的贷后检查应于{due}前完成。",
}
