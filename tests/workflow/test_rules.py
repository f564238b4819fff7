"""Rule tables: versions by effective date, and every threshold at and around its boundary."""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from core.rules import DEFAULT_PATH, Payment, RuleBook, RuleTableError, UnknownProduct, fen_to_yuan, yuan_to_fen

YUAN = 100  # fen


@pytest.fixture(scope="module")
def v2024(rules):
    return rules.at(dt.date(2024, 7, 1))


@pytest.fixture(scope="module")
def v2010(rules):
    return rules.at(dt.date(2024, 6, 30))


def test_version_in_force_by_date(rules):
    assert rules.at(dt.date(2010, 2, 12)).code == "2010"
    assert rules.at(dt.date(2024, 6, 30)).code == "2010"
    assert rules.at(dt.date(2024, 7, 1)).code == "2024"
    assert rules.at(dt.datetime(2030, 1, 1, 8)).code == "2024"
    with pytest.raises(LookupError, match="2010-02-12"):
        rules.at(dt.date(2010, 2, 11))
    assert set(rules.version("2024").products) == {
        "personal_consumer", "personal_business", "working_capital", "fixed_asset", "project_finance"}
    assert rules.version("2024").product("project_finance").family == "fixed_asset"
    with pytest.raises(UnknownProduct, match="crypto"):
        rules.version("2024").product("crypto")


# --- term limits -------------------------------------------------------------------------

@pytest.mark.parametrize("product,months,allowed,justify", [
    ("personal_consumer", 60, True, False), ("personal_consumer", 61, False, False),
    ("personal_business", 60, True, False), ("personal_business", 61, True, True),
    ("personal_business", 120, True, True), ("personal_business", 121, False, False),
    ("working_capital", 36, True, False), ("working_capital", 37, True, True),
    ("working_capital", 60, True, True), ("working_capital", 61, False, False),
    ("fixed_asset", 120, True, False), ("fixed_asset", 121, True, True), ("fixed_asset", 300, True, True),
    ("project_finance", 120, True, False), ("project_finance", 121, True, True),
    ("personal_consumer", 0, False, False), ("personal_consumer", 1, True, False),
])
def test_term_limits_2024(v2024, product, months, allowed, justify):
    check = v2024.check_term(product, months)
    assert (check.allowed, check.needs_justification) == (allowed, justify), check.message


def test_no_term_caps_before_2024(v2010):
    for product in v2010.products:
        check = v2010.check_term(product, 240)
        assert check.allowed and not check.needs_justification


# --- committee routing ----------------------------------------------------------------------

@pytest.mark.parametrize("amount,kind,size", [
    (1, "small", 5), (1_000_000 * YUAN - 1, "small", 5), (1_000_000 * YUAN, "small", 5),
    (1_000_000 * YUAN + 1, "large", 9), (50_000_000 * YUAN, "large", 9),
])
def test_committee_by_amount(v2024, amount, kind, size):
    committee = v2024.committee_for("working_capital", amount)
    assert (committee.kind, committee.size) == (kind, size)
    assert committee.pool == f"{kind}_committee"


@pytest.mark.parametrize("size,votes_for,passes", [(5, 4, True), (5, 3, False), (9, 6, True), (9, 5, False),
                                                   (7, 5, True), (7, 4, False), (3, 2, True)])
def test_two_thirds_pass_rule(v2024, size, votes_for, passes):
    committee = v2024.small_committee
    assert committee.pass_ratio == Fraction(2, 3)
    assert committee.passes(votes_for, size) is passes


def test_votes_needed(v2024):
    assert v2024.small_committee.votes_needed() == 4
    assert v2024.large_committee.votes_needed() == 6


def test_committee_amount_must_be_fen(v2024):
    with pytest.raises(ValueError, match="fen"):
        v2024.committee_for("working_capital", 1_000_000.0)


# --- entrusted payment ----------------------------------------------------------------------

@pytest.mark.parametrize("product,amount,purpose,payee_known,mode", [
    # personal: entrusted unless under a threshold
    ("personal_consumer", 300_000 * YUAN, "consumption", False, "own"),
    ("personal_consumer", 300_000 * YUAN + 1, "consumption", False, "entrusted"),
    ("personal_consumer", 1 * YUAN, "consumption", True, "entrusted"),
    ("personal_business", 500_000 * YUAN, "business", True, "own"),
    ("personal_business", 500_000 * YUAN + 1, "business", True, "entrusted"),
    ("personal_business", 400_000 * YUAN, "business", False, "own"),
    ("personal_business", 400_000 * YUAN, "consumption", False, "entrusted"),
    # working capital and fixed assets: own unless a large single payment
    ("working_capital", 5_000_000 * YUAN, "business", True, "own"),
    ("working_capital", 5_000_000 * YUAN + 1, "business", True, "entrusted"),
    ("fixed_asset", 5_000_000 * YUAN, "business", True, "own"),
    ("fixed_asset", 5_000_000 * YUAN + 1, "business", True, "entrusted"),
    ("project_finance", 5_000_000 * YUAN + 1, "business", True, "entrusted"),
])
def test_payment_mode_thresholds(v2024, v2010, product, amount, purpose, payee_known, mode):
    for version in (v2010, v2024):
        assert version.payment_mode(product, amount, purpose, payee_known).mode == mode


def test_fixed_asset_share_of_investment(v2024):
    investment = 40_000_000 * YUAN  # 5% = 2,000,000 yuan
    assert v2024.payment_mode("fixed_asset", 2_000_000 * YUAN, "business", True, investment).mode == "own"
    decision = v2024.payment_mode("fixed_asset", 2_000_000 * YUAN + 1, "business", True, investment)
    assert decision.mode == "entrusted" and decision.threshold_fen == 2_000_000 * YUAN


def test_payment_amount_is_never_a_float(v2024):
    with pytest.raises(ValueError, match="fen"):
        v2024.payment_mode("personal_consumer", 300000.0, "consumption", False)


# --- split detection -------------------------------------------------------------------------

def _pay(amount_yuan: int, day: int, payee: str | None = "Shop A", loan: str = "L1", mode: str = "own",
         product: str = "personal_consumer", payee_known: bool = False) -> Payment:
    return Payment(loan, product, amount_yuan * YUAN, dt.date(2025, 1, 1) + dt.timedelta(days=day), payee,
                   "consumption", payee_known, mode)


def test_split_within_the_window_is_flagged(v2024):
    flags = v2024.detect_split([_pay(290_000, 0), _pay(290_000, 29)])
    assert len(flags) == 1
    assert flags[0].total_fen == 580_000 * YUAN and flags[0].threshold_fen == 300_000 * YUAN
    assert "entrusted" in flags[0].message


def test_split_window_boundary(v2024):
    assert v2024.detect_split([_pay(290_000, 0), _pay(290_000, 30)]) == []


def test_split_that_stays_under_the_threshold_is_fine(v2024):
    assert v2024.detect_split([_pay(100_000, 0), _pay(100_000, 1), _pay(100_000, 2)]) == []
    flagged = v2024.detect_split([_pay(100_000, 0), _pay(100_000, 1), _pay(100_000, 2), _pay(1, 3)])
    assert len(flagged) == 1 and len(flagged[0].payments) == 4  # 300,000.01 yuan in all


def test_split_grouping(v2024, rules):
    spread = [_pay(290_000, 0, payee="Shop A"), _pay(290_000, 1, payee="Shop B")]
    assert v2024.detect_split(spread) == []  # grouped by payee
    by_loan = RuleBook.parse(rules_text().replace('group_by = "payee"', 'group_by = "loan"'), "r.toml").at(dt.date(2025, 1, 1))
    assert len(by_loan.detect_split(spread)) == 1
    assert v2024.detect_split([_pay(290_000, 0, mode="entrusted"), _pay(290_000, 1)]) == []


def test_overlapping_windows_are_reported_once(v2024):
    flags = v2024.detect_split([_pay(200_000, 0), _pay(200_000, 10), _pay(200_000, 20)])
    assert len(flags) == 1 and len(flags[0].payments) == 3


# --- post-loan checks -------------------------------------------------------------------------

def test_post_loan_schedule(v2024):
    schedule = v2024.post_loan_schedule("working_capital", dt.date(2025, 1, 31))
    assert (schedule.first_check_from, schedule.first_check_by) == (dt.date(2025, 2, 15), dt.date(2025, 3, 2))
    assert schedule.due_dates(3) == [dt.date(2025, 3, 2), dt.date(2025, 4, 2), dt.date(2025, 5, 2)]
    quarterly = v2024.post_loan_schedule("personal_consumer", dt.date(2025, 1, 31))
    assert quarterly.due_dates(3) == [dt.date(2025, 3, 2), dt.date(2025, 6, 2), dt.date(2025, 9, 2)]
    assert quarterly.next_due(dt.date(2025, 11, 30)) == dt.date(2026, 2, 28)


# --- a bank edits the tables without code ------------------------------------------------------

def rules_text() -> str:
    return DEFAULT_PATH.read_text(encoding="utf-8")


def test_bank_changes_thresholds_in_the_file():
    text = rules_text().replace('large_above = "1000000"', 'large_above = "2000000.00"', 1)
    text = text.replace('pass_ratio = "2/3"', 'pass_ratio = "3/4"')
    edited = RuleBook.parse(text, "bank-rules.toml")
    old = edited.at(dt.date(2020, 1, 1))
    assert old.committee_for("working_capital", 2_000_000 * YUAN).kind == "small"
    assert old.small_committee.votes_needed() == 4 and not old.small_committee.passes(3, 5)
    assert old.large_committee.pass_ratio == Fraction(3, 4) and old.large_committee.votes_needed() == 7


def test_money_in_yuan_strings():
    assert yuan_to_fen("300000") == 30_000_000 and yuan_to_fen("300,000.01") == 30_000_001
    assert fen_to_yuan(30_000_001) == "300,000.01"
    for bad in ("0.001", "-5", "lots", 300000.0):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)


def _line(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


@pytest.mark.parametrize("old,new,needle,message", [
    ('large_above = "1000000"', "large_above = 1000000.0", "large_above = 1000000.0", "must be a string"),
    ('entrusted_above = "5000000"', 'entrusted_above = "5000000.001"', '"5000000.001"', "two decimal places"),
    ('small = { size = 5, pool = "small_committee" }', 'small = { size = 4, pool = "small_committee" }', "size = 4", "odd number"),
    ('term_normal_max_months = 36', 'term_normal_max_months = 72', "term_normal_max_months = 72", "cannot exceed"),
    ('payment_default = "own"', 'payment_default = "sometimes"', '"sometimes"', "payment_default"),
    ('window_days = 30', 'window_days = 0', "window_days = 0", "at least 1"),
    ('check_interval_months = 1', 'check_interval_months = 1\ncolour = "red"', 'colour = "red"', "unknown key 'colour'"),
    ('effective_from = 2024-07-01', 'effective_from = 2009-07-01', "effective_from = 2009-07-01", "oldest first"),
    ('pass_ratio = "2/3"', 'pass_ratio = "1/2"', 'pass_ratio = "1/2"', "must be above 1/2"),
])
def test_broken_rule_file_names_the_line(old, new, needle, message):
    text = rules_text()
    assert old in text
    text = text.replace(old, new, 1)
    with pytest.raises(RuleTableError) as err:
        RuleBook.parse(text, "bank/rules.toml")
    expected = _line(text, needle)
    assert f"bank/rules.toml:{expected}:" in str(err.value) and message in str(err.value)


def test_unreadable_rule_file(tmp_path):
    with pytest.raises(RuleTableError, match="cannot read"):
        RuleBook.load(tmp_path / "nope.toml")
