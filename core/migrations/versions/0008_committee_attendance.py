"""Committee attendance: seats joined, left and rejoined; the quorum a meeting was called with
and when its presentation began and ended.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from core.orm import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("committee_meetings") as batch:
        batch.add_column(sa.Column("quorum", sa.String(16), nullable=False, server_default="1"))
        batch.add_column(sa.Column("opened_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deliberation_at", UTCDateTime(), nullable=True))
    op.create_table(
        "committee_attendance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("meeting_id", sa.Integer(), sa.ForeignKey("committee_meetings.id", ondelete="CASCADE",
                                                            name="fk_committee_attendance_meeting"),
                  nullable=False, index=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_committee_attendance_user"),
                  nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("committee_attendance")
    with op.batch_alter_table("committee_meetings") as batch:
        batch.drop_column("deliberation_at")
        batch.drop_column("opened_at")
        batch.drop_column("quorum")
