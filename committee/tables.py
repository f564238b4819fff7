"""Tables of the committee service: meetings and their draw, participants, revoked join
tokens, sealed ballots.

A ballot row holds only ciphertext (fixed length) and a hash commitment until the tally;
the key that opens the meeting's ballots is derived from the server secret and a per-meeting
salt, and is written to the meeting row only when the ballots are tallied (see
``committee/ballots.py``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, utcnow


class Meeting(Base):
    """One committee meeting for one loan."""

    __tablename__ = "committee_meetings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id the workflow and the archive know the meeting by (convene_committee's meeting_id).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id", name="fk_committee_meetings_loan"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # small | large
    panel_size: Mapped[int] = mapped_column(Integer)
    pass_ratio: Mapped[str] = mapped_column(String(16))  # a fraction, e.g. "2/3"
    scheduled_at: Mapped[dt.datetime] = mapped_column()
    # scheduled -> open -> deliberation -> voting -> tallied -> closed
    phase: Mapped[str] = mapped_column(String(16), default="scheduled")
    convener_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_committee_meetings_convener"))
    seed_commitment: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[dt.datetime] = mapped_column()
    pool: Mapped[str] = mapped_column(Text, default="[]")  # the frozen pool, JSON list of user ids
    frozen_at: Mapped[dt.datetime | None] = mapped_column()
    draw_record: Mapped[str] = mapped_column(Text, default="{}")  # DrawRecord.to_dict() as JSON
    # Ballot sealing: salt of the per-meeting key; the key itself only after the tally.
    ballot_salt: Mapped[str] = mapped_column(String(64))
    ballot_key: Mapped[str | None] = mapped_column(String(64))
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16))
    tally: Mapped[str | None] = mapped_column(Text)  # JSON: the opened ballots, after the tally
    decision_sent_at: Mapped[dt.datetime | None] = mapped_column()
    phase_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Seats to be filled before deliberation, a fraction of panel_size (the rule tables' quorum
    # when the meeting was called); when the presentation (open) began and ended.
    quorum: Mapped[str] = mapped_column(String(16), default="1", server_default="1")
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    deliberation_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MeetingParticipant(Base):
    """Who may join a meeting and as what (convener, member, officer)."""

    __tablename__ = "committee_participants"
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE", name="fk_committee_participants_meeting"),
        primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_committee_participants_user"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    # False once replaced as absent (the row stays: the replacement is logged in the draw record)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RevokedJoinToken(Base):
    """A join token (by its jti) the media server must refuse, and why."""

    __tablename__ = "committee_revoked_tokens"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE", name="fk_committee_revoked_meeting"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IssuedJoinToken(Base):
    """Every join token issued (jti only), so a phase change can revoke a role's tokens."""

    __tablename__ = "committee_join_tokens"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE", name="fk_committee_join_tokens_meeting"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()


class Ballot(Base):
    """A sealed ballot: AES-256-GCM of the padded vote, and SHA-256 over nonce and vote."""

    __tablename__ = "committee_ballots"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id", name="uq_committee_ballots_member"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE", name="fk_committee_ballots_meeting"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_committee_ballots_member"))
    sealed: Mapped[str] = mapped_column(Text)  # base64(nonce 12 bytes || ciphertext || tag)
    commitment: Mapped[str] = mapped_column(String(64))
    cast_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Attendance(Base):
    """A seat taken or left in the meeting's room, as the media server saw it: ``join`` (first
    connection), ``reconnect`` (a later one), ``leave``. The last row of a user says whether
    they are present; the rows are the minutes' attendance list."""

    __tablename__ = "committee_attendance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("committee_meetings.id", ondelete="CASCADE", name="fk_committee_attendance_meeting"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", name="fk_committee_attendance_user"))
    role: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))  # join | reconnect | leave
    phase: Mapped[str] = mapped_column(String(16))  # the meeting's phase then
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
