"""How long each kind of archive record is kept, and whether it may go now.

Pure. A record whose retention has not ended cannot be deleted: ``ensure_deletable``
raises, and the deleting code must call it first. A record of a kind with no rule,
or tied to a loan that is not closed, is never deletable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Mapping


class RetentionError(Exception):
    """Deleting this record now would break its retention."""


class RetentionConfigError(ValueError):
    pass


class Anchor(str, Enum):
    LOAN_CLOSED = "loan_closed"
    """Counted from the day the loan is closed (settled or written off)."""
    FILED = "filed"
    """Counted from the day the record was filed."""


@dataclass(frozen=True)
class RetentionRule:
    years: int
    anchor: Anchor = Anchor.LOAN_CLOSED

    def __post_init__(self) -> None:
        if not 0 < self.years <= 200:
            raise RetentionConfigError(f"retention of {self.years} years is not plausible")


# Defaults, to be confirmed by each bank's compliance officer:
# - credit files and everything in them: 30 years after the loan is closed (the
#   bank's archive rule for credit files of agricultural loans);
# - fingerprint verification records: 5 years after the relationship ends, the
#   anti-money-laundering minimum for customer identification records, and no
#   longer, since biometric data is sensitive personal information (PIPL art. 28).
DEFAULT_RULES: dict[str, RetentionRule] = {
    "document_page": RetentionRule(30),
    "investigation_record": RetentionRule(30),
    "review_record": RetentionRule(30),
    "committee_draw": RetentionRule(30),
    "committee_minutes": RetentionRule(30),
    "vote": RetentionRule(30),
    "recording": RetentionRule(30),
    "recording_manifest": RetentionRule(30),
    "post_loan_record": RetentionRule(30),
    "credit_file_index": RetentionRule(30),
    "fingerprint_record": RetentionRule(5),
}


@dataclass(frozen=True)
class RetainedRecord:
    kind: str
    filed_at: datetime
    loan_closed_at: datetime | None = None
    legal_hold: bool = False
    """Litigation or an inspection freezes deletion whatever the dates say."""


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a non-leap year
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class RetentionSettings:
    rules: Mapping[str, RetentionRule]

    @classmethod
    def default(cls) -> "RetentionSettings":
        return cls(dict(DEFAULT_RULES))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: "RetentionSettings | None" = None) -> "RetentionSettings":
        """Read ``{"recording": {"years": 10, "after": "loan_closed"}, ...}`` over the defaults.

        A setting may lengthen or shorten a default; removing a kind is not possible,
        so a typo cannot make a kind deletable by accident.
        """
        rules = dict((base or cls.default()).rules)
        for kind, value in data.items():
            if not isinstance(value, Mapping):
                raise RetentionConfigError(f"retention for {kind!r} must be a table with 'years'")
            unknown = set(value) - {"years", "after"}
            if unknown:
                raise RetentionConfigError(f"unknown retention settings {sorted(unknown)} for {kind!r}")
            try:
                years = int(value["years"])
                anchor = Anchor(value.get("after", Anchor.LOAN_CLOSED.value))
            except (KeyError, ValueError, TypeError) as exc:
                raise RetentionConfigError(f"bad retention for {kind!r}: {exc}") from None
            rules[kind] = RetentionRule(years, anchor)
        return cls(rules)

    def retention_end(self, record: RetainedRecord) -> datetime | None:
        """When retention ends, or None while that cannot be known (loan still open)."""
        rule = self.rules.get(record.kind)
        if rule is None:
            raise RetentionError(f"no retention rule for records of kind {record.kind!r}; they are kept")
        if rule.anchor is Anchor.FILED:
            return add_years(record.filed_at, rule.years)
        if record.loan_closed_at is None:
            return None
        return add_years(record.loan_closed_at, rule.years)

    def may_delete(self, record: RetainedRecord, at: datetime) -> bool:
        try:
            self.ensure_deletable(record, at)
        except RetentionError:
            return False
        return True

    def ensure_deletable(self, record: RetainedRecord, at: datetime) -> None:
        """Raise RetentionError unless ``record`` may be deleted at ``at``."""
        if at.tzinfo is None or record.filed_at.tzinfo is None:
            raise RetentionError("retention decisions need timezone-aware times")
        if record.legal_hold:
            raise RetentionError(f"{record.kind} is under legal hold")
        end = self.retention_end(record)
        if end is None:
            raise RetentionError(f"{record.kind} belongs to a loan that is not closed; it is kept")
        if at < end:
            raise RetentionError(f"{record.kind} must be kept until {end.isoformat()}")
