"""Tables of the core service (SQLAlchemy 2 declarative mapping).

Rows are persistence; the rules about them live in the domain and service modules.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime}


class Office(Base):
    """An office of the bank's tree (总行/联社 → 营业部, 支行, 信用社, 分理处, 受理中心, 分中心)."""

    __tablename__ = "offices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    # Materialised path "/1/4/9/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(400), index=True, default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    roles: Mapped[list["UserRole"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role")

    @property
    def role_codes(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class WebSession(Base):
    """A server-side login session; the cookie holds a token whose SHA-256 is the key."""

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column()
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column()
    __table_args__ = (
        Index("ix_login_failures_account_at", "account", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )


class AuditRecord(Base):
    """One link of the append-only, hash-chained audit trail."""

    __tablename__ = "audit_records"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO-8601 UTC, hashed exactly as stored
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    office_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    payload_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)


class AuditHead(Base):
    """The chain's newest link, one row: locking it orders concurrent appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class Customer(Base):
    """A borrower or guarantor known to the bank (借款人/担保人)."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(32), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Loan(Base):
    """A loan case from application to close."""

    __tablename__ = "loans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    applicant_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    product: Mapped[str] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    term_months: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    region: Mapped[str] = mapped_column(String(64), default="")
    stage: Mapped[str] = mapped_column(String(40), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    officer_a_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    officer_b_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    workflow_version: Mapped[str] = mapped_column(String(80), default="")
    # Bookkeeping the workflow needs: who sent the case into its stage, whether anyone at the
    # stage has acted since (withdraw is allowed until then), people and offices bound to it.
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stage_acted: Mapped[bool] = mapped_column(Boolean, default=False)
    assignments: Mapped[str] = mapped_column(Text, default="{}")
    flags: Mapped[str] = mapped_column(Text, default="[]")
    due_at: Mapped[dt.datetime | None] = mapped_column()
    closed_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stage_entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_loans_stage_office", "stage", "office_id"),
                      # One index per branch of a scope (core/scope.py), each in id order.
                      Index("ix_loans_stage_id", "stage", "id"),
                      Index("ix_loans_officer_a_stage", "officer_a_id", "stage", "id"),
                      Index("ix_loans_officer_b_stage", "officer_b_id", "stage", "id"),
                      Index("ix_loans_created_by", "created_by_id", "id"),)


class LoanParticipant(Base):
    """Who has handled or is assigned to a loan, and in which duty: the basis of scope."""

    __tablename__ = "loan_participants"
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    duty: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoanNote(Base):
    """A remark on a case file by someone allowed to see it."""

    __tablename__ = "loan_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WorkflowVersion(Base):
    """Each workflow definition a loan has run on, kept so loans in flight keep theirs."""

    __tablename__ = "workflow_versions"
    version: Mapped[str] = mapped_column(String(80), primary_key=True)
    origin: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoanEvent(Base):
    """The command log of a loan (Fineract's maker/checker record): one row per action taken."""

    __tablename__ = "loan_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    from_stage: Mapped[str] = mapped_column(String(40))
    to_stage: Mapped[str] = mapped_column(String(40))
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    maker_role: Mapped[str] = mapped_column(String(32))
    # Whose step this action checked (the sender of the stage it decided on), if any.
    checker_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    definition_version: Mapped[str] = mapped_column(String(80))


class LoanDuty(Base):
    """Who did which duty on a loan: the record separation of duties is checked against."""

    __tablename__ = "loan_duties"
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    duty: Mapped[str] = mapped_column(String(40), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoanDocument(Base):
    """A document code filed for a loan (the archive keeps the pages themselves)."""

    __tablename__ = "loan_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    page: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200), default="")
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The tus upload that filed this page: a retried completion finds the filing by it
    # instead of filing the page a second time.
    upload_id: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (UniqueConstraint("loan_id", "code", "page", name="uq_loan_document_page"),
                      Index("uq_loan_documents_upload_id", "upload_id", unique=True))


class OutboxMessage(Base):
    """A notification queued in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recipient_phone: Mapped[str] = mapped_column(String(32), default="")
    recipient_name: Mapped[str] = mapped_column(String(100), default="")
    template: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    gateway_reference: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")


class DeliveredMessage(Base):
    """What the default gateway delivered: the recipient's page reads it from here.

    Keyed by the outbox id, so a message handed over twice (after a crash between sending and
    marking it sent) is stored once.
    """

    __tablename__ = "delivered_messages"
    outbox_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recipient_phone: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column()


class IdempotencyRecord(Base):
    """The first answer to a request made with an Idempotency-Key, replayed for retries."""

    __tablename__ = "idempotency_keys"
    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Feedback(Base):
    """Opinions and suggestions from the portal (意见建议反馈), routed to a manager."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    topic: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

from .postloan import tables as _postloan_tables  # noqa: E402,F401  (post-loan tables join the metadata)
# The other packages own their tables (recordings.tables, biometrics.tables, committee.tables)
# on this Base; the composition root imports them (core.app.load_tables) where the whole
# database's metadata is needed.
