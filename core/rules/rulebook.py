"""The rule tables (三个办法一个指引) as versions with effective dates.

A RuleBook holds every version of a bank's rule file; ``at(date)`` gives the version in force
that day. Amounts are fen (integers) in code and yuan strings in the file; never floats.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping

from core.workflow.source import SourceError, TomlSource

from . import committee as committee_mod
from . import payments as payments_mod
from . import post_loan as post_loan_mod
from . import terms as terms_mod
from .committee import CommitteeRule
from core.inputs import MAX_FEN

from .money import fen_to_yuan, yuan_to_fen
from .payments import OwnPaymentAllowance, Payment, PaymentDecision, PaymentRule, SplitCheck, SplitFlag
from .post_loan import PostLoanSchedule
from .terms import TermCheck

DEFAULT_PATH = Path(__file__).with_name("default.toml")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class RuleTableError(SourceError):
    """The rule file is wrong; the message names the file and line of each problem."""


class UnknownProduct(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ProductRule:
    code: str
    name_zh: str
    name_en: str
    family: str  # personal | working_capital | fixed_asset
    regulation: str
    term_normal_max_months: int | None
    term_max_months: int | None
    payment: PaymentRule
    check_interval_months: int
    committee_large_above_fen: int | None  # overrides the version's threshold for this product
    max_amount_fen: int = MAX_FEN  # the largest loan of the product (bank-set)


@dataclass(frozen=True)
class RuleVersion:
    code: str
    title: str
    effective_from: dt.date
    signing_modes: tuple[str, ...]
    products: Mapping[str, ProductRule]
    committee_large_above_fen: int
    small_committee: CommitteeRule
    large_committee: CommitteeRule
    split: SplitCheck
    first_check_from_days: int
    first_check_by_days: int

    def product(self, code: str) -> ProductRule:
        try:
            return self.products[code]
        except KeyError:
            raise UnknownProduct(f"unknown product '{code}' in rules {self.code}; known: {', '.join(self.products)}") from None

    def check_term(self, product: str, months: int) -> TermCheck:
        rule = self.product(product)
        return terms_mod.check_term(product, months, rule.term_normal_max_months, rule.term_max_months)

    def amount_problem(self, product: str, amount: int) -> str | None:
        """Why the amount cannot be applied for under this product, or None."""
        limit = self.product(product).max_amount_fen
        if amount > limit:
            return f"{amount} fen is above the largest {product} loan, {limit} fen ({fen_to_yuan(limit)} yuan)"
        return None

    def committee_for(self, product: str, amount: int) -> CommitteeRule:
        rule = self.product(product)
        threshold = rule.committee_large_above_fen
        if threshold is None:
            threshold = self.committee_large_above_fen
        return committee_mod.committee_for(amount, threshold, self.small_committee, self.large_committee)

    def payment_mode(self, product: str, amount: int, purpose: str = "", payee_known: bool = True,
                     project_investment: int | None = None) -> PaymentDecision:
        return payments_mod.decide(product, self.product(product).payment, amount, purpose or "",
                                   payee_known, project_investment)

    def detect_split(self, payments: Iterable[Payment]) -> list[SplitFlag]:
        payments = list(payments)
        for payment in payments:
            self.product(payment.product)
        return payments_mod.detect_split(
            payments, self.split,
            lambda p, amount: self.payment_mode(p.product, amount, p.purpose, p.payee_known))

    def post_loan_schedule(self, product: str, disbursed_on: dt.date) -> PostLoanSchedule:
        rule = self.product(product)
        return post_loan_mod.schedule(disbursed_on, self.first_check_from_days, self.first_check_by_days,
                                      rule.check_interval_months)


@dataclass(frozen=True)
class RuleBook:
    name: str
    origin: str
    sha256: str
    versions: tuple[RuleVersion, ...]  # oldest first

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "RuleBook":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleTableError(str(path), [(0, f"cannot read the rule tables: {exc.strerror}")]) from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, origin: str = "<rules>") -> "RuleBook":
        src = TomlSource.parse(text, origin, error=RuleTableError)
        return _Loader(src).load()

    def at(self, day: dt.date) -> RuleVersion:
        if isinstance(day, dt.datetime):
            day = day.date()
        in_force = [v for v in self.versions if v.effective_from <= day]
        if not in_force:
            raise LookupError(f"no rule version is in force on {day}; the earliest starts {self.versions[0].effective_from}")
        return in_force[-1]

    def version(self, code: str) -> RuleVersion:
        for version in self.versions:
            if version.code == code:
                return version
        raise LookupError(f"no rule version '{code}'")


# --- loading --------------------------------------------------------------------------------

_TOP = {"rulebook": dict, "version": list}
_BOOK = {"name": (str, True)}
_VERSION = {"code": (str, True), "title": (str, True), "effective_from": (dt.date, True),
            "signing_modes": (list, True), "committee": (dict, True), "split_check": (dict, True),
            "post_loan": (dict, True), "product": (list, True)}
_COMMITTEE = {"pass_ratio": (str, True), "large_above": (str, True), "small": (dict, True), "large": (dict, True),
              "quorum": (str, False)}
_PANEL = {"size": (int, True), "pool": (str, True)}
_SPLIT = {"window_days": (int, True), "group_by": (str, True), "min_parts": (int, True)}
_POST = {"first_check_from_days": (int, True), "first_check_by_days": (int, True)}
_PRODUCT = {"code": (str, True), "name_zh": (str, True), "name_en": (str, True), "family": (str, True),
            "regulation": (str, True), "term_normal_max_months": (int, False), "term_max_months": (int, False),
            "payment_default": (str, True), "own_payment": (list, False), "entrusted_above": (str, False),
            "entrusted_above_share": (str, False), "check_interval_months": (int, True),
            "committee_large_above": (str, False), "max_amount": (str, False)}
_OWN = {"max": (str, True), "payee_known": (bool, False), "purpose": (str, False)}
_KIND_NAMES = {str: "a string (amounts: yuan in quotes, e.g. \"300000\")", int: "an integer", bool: "true or false",
               list: "a list", dict: "a table", dt.date: "a date (YYYY-MM-DD, unquoted)"}
FAMILIES = ("personal", "working_capital", "fixed_asset")
SIGNING_MODES = ("face_to_face", "video")


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is dt.date:
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, kind)


class _Loader:
    def __init__(self, src: TomlSource) -> None:
        self.src = src
        self.problems: list[tuple[int, str]] = []

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append((self.src.line_of(*path), message))

    def table(self, path: tuple, value: Any, schema: Mapping[str, tuple[type, bool]], what: str) -> bool:
        if not isinstance(value, dict):
            self.problem(path, f"{what} must be a table")
            return False
        ok = True
        for key in value:
            if key not in schema:
                self.problem(path + (key,), f"unknown key '{key}' in {what}; allowed: {', '.join(schema)}")
                ok = False
        for key, (kind, required) in schema.items():
            if key not in value:
                if required:
                    self.problem(path, f"missing key '{key}' in {what}")
                    ok = False
            elif not _is(value[key], kind):
                self.problem(path + (key,), f"'{key}' in {what} must be {_KIND_NAMES.get(kind, kind.__name__)}")
                ok = False
        return ok

    def money(self, path: tuple, text: Any) -> int:
        try:
            return yuan_to_fen(text)
        except ValueError as exc:
            self.problem(path, str(exc))
            return 0

    def fraction(self, path: tuple, text: str, low: Fraction, high: Fraction) -> Fraction:
        try:
            value = Fraction(text.strip())
        except (ValueError, ZeroDivisionError):
            self.problem(path, f"'{text}' is not a fraction like \"2/3\"")
            return Fraction(1)
        if not low < value <= high:
            self.problem(path, f"{text} must be above {low} and at most {high}")
        return value

    def load(self) -> RuleBook:
        data = self.src.data
        for key in data:
            if key not in _TOP:
                self.problem((key,), f"unknown top-level key '{key}'; allowed: rulebook, version")
        if not isinstance(data.get("rulebook"), dict) or not isinstance(data.get("version"), list) or not data["version"]:
            self.problem(("rulebook",), "the rule file needs a [rulebook] table and at least one [[version]]")
            raise RuleTableError(self.src.origin, self.problems)
        self.table(("rulebook",), data["rulebook"], _BOOK, "[rulebook]")
        versions = [v for v in (self.load_version(i, e) for i, e in enumerate(data["version"])) if v]
        if not self.problems:
            seen: dict[str, int] = {}
            for i, version in enumerate(versions):
                if version.code in seen:
                    self.problem(("version", i, "code"), f"duplicate version code '{version.code}'")
                seen[version.code] = i
            dates = [v.effective_from for v in versions]
            for i in range(1, len(dates)):
                if dates[i] <= dates[i - 1]:
                    self.problem(("version", i, "effective_from"),
                                 f"versions must be listed oldest first with distinct dates ({dates[i]} after {dates[i - 1]})")
        if self.problems:
            raise RuleTableError(self.src.origin, self.problems)
        return RuleBook(data["rulebook"]["name"], self.src.origin, self.src.sha256, tuple(versions))

    def load_version(self, i: int, entry: Any) -> RuleVersion | None:
        path = ("version", i)
        if not self.table(path, entry, _VERSION, "[[version]]"):
            return None
        before = len(self.problems)
        modes = entry["signing_modes"]
        if not modes or any(m not in SIGNING_MODES for m in modes):
            self.problem(path + ("signing_modes",), f"signing_modes must be a non-empty list of {', '.join(SIGNING_MODES)}")
        com = entry["committee"]
        small = large = None
        ratio, large_above = Fraction(2, 3), 0
        if self.table(path + ("committee",), com, _COMMITTEE, "[version.committee]"):
            ratio = self.fraction(path + ("committee", "pass_ratio"), com["pass_ratio"], Fraction(1, 2), Fraction(1))
            large_above = self.money(path + ("committee", "large_above"), com["large_above"])
            # seats to be filled before deliberation (default every seat)
            quorum = self.fraction(path + ("committee", "quorum"), com.get("quorum", "1"), Fraction(0), Fraction(1))
            panels = {}
            for kind in ("small", "large"):
                ppath = path + ("committee", kind)
                if self.table(ppath, com[kind], _PANEL, f"committee.{kind}"):
                    size = com[kind]["size"]
                    if size < 3 or size % 2 == 0:
                        self.problem(ppath, f"the {kind} committee needs an odd number of members, at least 3 (got {size})")
                    panels[kind] = CommitteeRule(kind, size, com[kind]["pool"], ratio, quorum)
            small, large = panels.get("small"), panels.get("large")
        split = None
        if self.table(path + ("split_check",), entry["split_check"], _SPLIT, "[version.split_check]"):
            sc = entry["split_check"]
            if sc["window_days"] < 1:
                self.problem(path + ("split_check", "window_days"), "window_days must be at least 1")
            if sc["min_parts"] < 2:
                self.problem(path + ("split_check", "min_parts"), "min_parts must be at least 2")
            if sc["group_by"] not in ("payee", "loan"):
                self.problem(path + ("split_check", "group_by"), "group_by must be \"payee\" or \"loan\"")
            split = SplitCheck(sc["window_days"], sc["group_by"], sc["min_parts"])
        post = entry["post_loan"]
        if self.table(path + ("post_loan",), post, _POST, "[version.post_loan]"):
            if not 0 <= post["first_check_from_days"] <= post["first_check_by_days"]:
                self.problem(path + ("post_loan",), "first_check_from_days must be between 0 and first_check_by_days")
        products: dict[str, ProductRule] = {}
        for j, product in enumerate(entry["product"]):
            rule = self.load_product(path + ("product", j), product)
            if rule is None:
                continue
            if rule.code in products:
                self.problem(path + ("product", j, "code"), f"duplicate product code '{rule.code}'")
            products[rule.code] = rule
        if len(self.problems) > before or small is None or large is None or split is None:
            return None
        return RuleVersion(entry["code"], entry["title"], entry["effective_from"], tuple(modes), products,
                           large_above, small, large, split, post["first_check_from_days"],
                           post["first_check_by_days"])

    def load_product(self, path: tuple, entry: Any) -> ProductRule | None:
        if not self.table(path, entry, _PRODUCT, "[[version.product]]"):
            return None
        code = entry["code"]
        if not _CODE.match(code):
            self.problem(path + ("code",), f"product code '{code}' must be lower_snake_case")
        if entry["family"] not in FAMILIES:
            self.problem(path + ("family",), f"family must be one of {', '.join(FAMILIES)}")
        normal, absolute = entry.get("term_normal_max_months"), entry.get("term_max_months")
        for key, value in (("term_normal_max_months", normal), ("term_max_months", absolute)):
            if value is not None and value <= 0:
                self.problem(path + (key,), f"{key} must be positive")
        if normal is not None and absolute is not None and normal > absolute:
            self.problem(path + ("term_normal_max_months",), "the normal term limit cannot exceed the absolute one")
        if entry["check_interval_months"] not in range(1, 13):
            self.problem(path + ("check_interval_months",), "check_interval_months must be 1 to 12")
        default = entry["payment_default"]
        own: list[OwnPaymentAllowance] = []
        above = share = None
        if default == "entrusted":
            for key in ("entrusted_above", "entrusted_above_share"):
                if key in entry:
                    self.problem(path + (key,), f"{key} applies to products paid by the borrower by default")
            for allowance in entry.get("own_payment", []):
                if self.table(path + ("own_payment",), allowance, _OWN, "own_payment entry"):
                    own.append(OwnPaymentAllowance(self.money(path + ("own_payment",), allowance["max"]),
                                                   allowance.get("payee_known"), allowance.get("purpose")))
        elif default == "own":
            if "own_payment" in entry:
                self.problem(path + ("own_payment",), "own_payment applies to products paid by the bank by default")
            if "entrusted_above" in entry:
                above = self.money(path + ("entrusted_above",), entry["entrusted_above"])
            if "entrusted_above_share" in entry:
                share = self.fraction(path + ("entrusted_above_share",), entry["entrusted_above_share"], Fraction(0), Fraction(1))
        else:
            self.problem(path + ("payment_default",), "payment_default must be \"entrusted\" or \"own\"")
        committee_above = None
        if "committee_large_above" in entry:
            committee_above = self.money(path + ("committee_large_above",), entry["committee_large_above"])
        max_amount = MAX_FEN
        if "max_amount" in entry:
            max_amount = self.money(path + ("max_amount",), entry["max_amount"])
            if not 0 < max_amount <= MAX_FEN:
                self.problem(path + ("max_amount",), f"max_amount must be above 0 and at most {MAX_FEN // 100} yuan")
        return ProductRule(code, entry["name_zh"], entry["name_en"], entry["family"], entry["regulation"],
                           normal, absolute, PaymentRule(default, tuple(own), above, share),
                           entry["check_interval_months"], committee_above, max_amount)
