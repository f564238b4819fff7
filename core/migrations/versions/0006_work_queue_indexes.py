"""Indexes that let each branch of a scope follow one index in id order.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEXES = {
    "ix_loans_stage_id": ["stage", "id"],
    "ix_loans_officer_a_stage": ["officer_a_id", "stage", "id"],
    "ix_loans_officer_b_stage": ["officer_b_id", "stage", "id"],
    "ix_loans_created_by": ["created_by_id", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "loans", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="loans")
