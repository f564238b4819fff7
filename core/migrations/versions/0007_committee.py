"""Committee meetings, their draw, participants, join tokens (issued and revoked), sealed ballots.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from core.orm import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "committee_meetings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("loan_id", sa.Integer(), sa.ForeignKey("loans.id", name="fk_committee_meetings_loan"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("panel_size", sa.Integer(), nullable=False),
        sa.Column("pass_ratio", sa.String(16), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("convener_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_committee_meetings_convener"),
                  nullable=False),
        sa.Column("seed_commitment", sa.String(64), nullable=False),
        sa.Column("committed_at", UTCDateTime(), nullable=False),
        sa.Column("pool", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("frozen_at", UTCDateTime(), nullable=True),
        sa.Column("draw_record", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("ballot_salt", sa.String(64), nullable=False),
        sa.Column("ballot_key", sa.String(64), nullable=True),
        sa.Column("votes_for", sa.Integer(), nullable=True),
        sa.Column("votes_against", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("tally", sa.Text(), nullable=True),
        sa.Column("decision_sent_at", UTCDateTime(), nullable=True),
        sa.Column("phase_changed_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "committee_participants",
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("committee_meetings.id", ondelete="CASCADE",
                                                            name="fk_committee_participants_meeting"),
                  primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_committee_participants_user"),
                  primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("added_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "committee_revoked_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("committee_meetings.id", ondelete="CASCADE",
                                                            name="fk_committee_revoked_meeting"),
                  nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "committee_join_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("committee_meetings.id", ondelete="CASCADE",
                                                            name="fk_committee_join_tokens_meeting"),
                  nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "committee_ballots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("committee_meetings.id", ondelete="CASCADE",
                                                            name="fk_committee_ballots_meeting"),
                  nullable=False, index=True),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_committee_ballots_member"),
                  nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("cast_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("meeting_id", "member_id", name="uq_committee_ballots_member"),
    )


def downgrade() -> None:
    for table in ("committee_ballots", "committee_join_tokens", "committee_revoked_tokens",
                  "committee_participants", "committee_meetings"):
        op.drop_table(table)
