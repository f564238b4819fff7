"""Tables of post-loan management (imported at the end of core/orm.py, migration 0003)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base, LoanEvent, utcnow


class ManagedLoan(Base):
    """A loan under post-loan management: its calendar anchor, its manager, what is still owed."""

    __tablename__ = "postloan_loans"
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_postloan_loans_loan"),
                                         primary_key=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_postloan_loans_manager"), index=True)
    disbursed_on: Mapped[dt.date] = mapped_column(Date)
    maturity_on: Mapped[dt.date] = mapped_column(Date)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    rule_version: Mapped[str] = mapped_column(String(40), default="")
    # "system": disbursed through the workflow (new loan, prints required at inspection);
    # "imported": taken over from the old system, counted only once a manager has checked it.
    origin: Mapped[str] = mapped_column(String(16), default="system")
    checked: Mapped[bool] = mapped_column(Boolean, default=True)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_postloan_loans_checker"))
    checked_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    rating_open: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DueTask(Base):
    """One piece of due work. The unique key makes enrolment and execution idempotent:
    a restarted scheduler finds each row either done or pending, never half."""

    __tablename__ = "postloan_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_postloan_tasks_loan"))
    kind: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[dt.date] = mapped_column(Date)
    run_at: Mapped[dt.datetime] = mapped_column()
    audience: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(40))
    only_if_unpaid: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending → sent | skipped (paid already, loan closed) | done (an inspection was recorded)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    done_at: Mapped[dt.datetime | None] = mapped_column()
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        UniqueConstraint("loan_id", "kind", "due_on", name="uq_postloan_task"),
        Index("ix_postloan_tasks_due", "status", "run_at"),
    )


class PostLoanRecord(Base):
    """An inspection report, interest list, collection notice or repayment proof."""

    __tablename__ = "postloan_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_postloan_records_loan"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(24))
    on_day: Mapped[dt.date] = mapped_column(Date)
    covers_due_on: Mapped[dt.date | None] = mapped_column(Date)  # the interest date a payment settles
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    # Scanned pages: [{"sha256", "size", "media_type", "filename", "archive"}]
    pages: Mapped[str] = mapped_column(Text, default="[]")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_postloan_records_user"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PrintVerification(Base):
    """A fingerprint match of the customer, written by the fingerprint service (another module)."""

    __tablename__ = "postloan_print_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_postloan_prints_loan"),
                                         index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", name="fk_postloan_prints_customer"))
    matched: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int] = mapped_column(Integer, default=0)
    reference: Mapped[str] = mapped_column(String(100), default="")
    verified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_by_record_id: Mapped[int | None] = mapped_column(Integer)


class OfficerRating(Base):
    """The customer's rating of the officers after the loan is closed (one per loan)."""

    __tablename__ = "postloan_ratings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_postloan_ratings_loan"),
                                         unique=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_postloan_ratings_officer"),
                                                   index=True)
    attitude: Mapped[int] = mapped_column(Integer)
    skill: Mapped[int] = mapped_column(Integer)
    suggestions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Pairing a history record with the one before it (time in stage) reads history by loan.
Index("ix_loan_events_loan_at", LoanEvent.loan_id, LoanEvent.at)


class SmsSubmission(Base):
    """The SMPP gateway's ledger: one row per outbox message, the anchor of its idempotency."""

    __tablename__ = "sms_submissions"
    outbox_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    # submitting → accepted (the SMSC answered submit_sm_resp for every part)
    #            → retry (refused or never written: safe to submit again)
    #            → uncertain (written, answer lost: see docs/post-loan.md)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reference: Mapped[str] = mapped_column(String(400), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SmsPart(Base):
    """One submitted part (SMSC message id) and its delivery receipt."""

    __tablename__ = "sms_parts"
    message_id: Mapped[str] = mapped_column(String(65), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer, index=True)
    part_no: Mapped[int] = mapped_column(Integer)
    receipt_state: Mapped[str] = mapped_column(String(16), default="")
    receipt_at: Mapped[dt.datetime | None] = mapped_column()


from ..insight import tables as _insight_tables  # noqa: E402,F401  (dashboard tables, same migration)
