"""Tables of the fingerprint service (imported at the end of core/orm.py, migration 0005).

Biometric rows name their subject only by an opaque reference — a kind ("customer" or
"user") and an id — never by a name or an ID number, so a copy of these tables alone
identifies nobody. Templates (and images, when the bank keeps them) are AES-256-GCM
ciphertext under a per-subject data key, itself wrapped by the master key.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, utcnow


class SubjectKey(Base):
    """A subject's data key, wrapped (AES-GCM) by the master key named by `master_key_id`."""

    __tablename__ = "bio_subject_keys"
    subject_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Capture(Base):
    """One scanner capture: its SHA-256 (the same bytes twice is a replay), the encrypted
    template with its version (migration 0011), and the encrypted image only when the bank
    keeps images. A capture migrated to another template mode is a second row with the same
    SHA-256 and the other version (unique together), its image kept on the first row only."""

    __tablename__ = "bio_captures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # The template's version (biometrics.modes): only templates of one version are compared.
    template_version: Mapped[str] = mapped_column(String(40), default="3.18.1-python",
                                                  server_default="3.18.1-python")
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    finger: Mapped[int] = mapped_column(Integer, default=0)
    # enrollment | disbursement | post_loan | step_up | verification
    purpose: Mapped[str] = mapped_column(String(24))
    loan_id: Mapped[int | None] = mapped_column(Integer, index=True)
    enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    minutiae: Mapped[int] = mapped_column(Integer, default=0)
    area_mm2: Mapped[float] = mapped_column(Float, default=0.0)
    dpi: Mapped[float] = mapped_column(Float, default=500.0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    template_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    image_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    device: Mapped[str] = mapped_column(String(100), default="")
    captured_by: Mapped[str] = mapped_column(String(64), default="")
    captured_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_bio_captures_subject", "subject_kind", "subject_id", "enrolled"),
                      UniqueConstraint("sha256", "template_version", name="uq_bio_captures_sha256_version"))


class Verification(Base):
    """Every 1:1 verification: who asked, for whom, which finger, score, threshold, decision."""

    __tablename__ = "bio_verifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    finger: Mapped[int] = mapped_column(Integer, default=0)
    purpose: Mapped[str] = mapped_column(String(24))
    loan_id: Mapped[int | None] = mapped_column(Integer, index=True)
    capture_id: Mapped[int | None] = mapped_column(
        ForeignKey("bio_captures.id", name="fk_bio_verifications_capture"))
    enrollment_id: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    # Version of the templates compared (probe and enrollment alike); empty when refused early.
    template_version: Mapped[str] = mapped_column(String(40), default="", server_default="")
    threshold: Mapped[float] = mapped_column(Float)
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(400), default="")
    device: Mapped[str] = mapped_column(String(100), default="")
    verified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoanGuarantor(Base):
    """A guarantor (担保人) of a loan, added by the investigating officer."""

    __tablename__ = "loan_guarantors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE", name="fk_loan_guarantors_loan"),
                                         index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", name="fk_loan_guarantors_customer"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_loan_guarantors_added_by"))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("loan_id", "customer_id", name="uq_loan_guarantor"),)


class DuplicateIdentityHit(Base):
    """A print enrolled for a loan's person matched a print enrolled under another customer
    (another ID number): a possible borrowed, false or impersonated name (三名贷款)."""

    __tablename__ = "bio_duplicate_hits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(Integer, index=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    other_customer_id: Mapped[int] = mapped_column(Integer)
    capture_id: Mapped[int] = mapped_column(Integer)
    other_capture_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    found_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StepUpToken(Base):
    """A step-up grant: stored as the SHA-256 of the token, bound to user, loan, action and
    payload hash; `used_at` makes it single-use."""

    __tablename__ = "bio_step_up_tokens"
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    loan_id: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    verification_id: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()
