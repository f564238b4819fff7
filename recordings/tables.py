"""Tables of the credit archive (档案): filed records other than scanned pages, and the
signed versions of each loan's credit-file index.

Scanned pages are `core.orm.LoanDocument` rows (the workflow's `documents_present` guard reads
them); everything else filed for a loan is an `ArchiveEntry`. The bytes live in the blob store,
named by their SHA-256; these rows say what they are and whose credit file they belong to.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, utcnow


class ArchiveEntry(Base):
    """One filed record: a fingerprint capture record, a committee recording or its manifest,
    an investigation or review record, a post-loan record..."""

    __tablename__ = "archive_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="RESTRICT", name="fk_archive_entries_loan"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(64))
    # The record's reference within its kind (e.g. the meeting id, a capture id); with `seq`
    # it is the entry's identity in the signed index.
    code: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    meeting_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Which retention rule applies (recordings.retention); usually the kind itself.
    retention_kind: Mapped[str] = mapped_column(String(64))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_archive_entries_filed_by"))
    filed_by: Mapped[str] = mapped_column(String(64), default="")
    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("loan_id", "kind", "code", "seq", name="uq_archive_entry_identity"),
        Index("ix_archive_entries_loan_kind", "loan_id", "kind"),
    )


class CreditFileIndexVersion(Base):
    """One signed version of a loan's credit-file index, exactly as it was signed."""

    __tablename__ = "credit_file_indexes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(
        ForeignKey("loans.id", ondelete="RESTRICT", name="fk_credit_file_indexes_loan"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The canonical bytes (UTF-8 JSON) that were signed, kept verbatim.
    canonical: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column()
    __table_args__ = (UniqueConstraint("loan_id", "version", name="uq_credit_file_index_version"),)
