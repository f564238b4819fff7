"""A scanned page remembers the tus upload that filed it, so a retried completion finds it.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_documents") as batch:
        batch.add_column(sa.Column("upload_id", sa.String(32), nullable=True))
    # Unique but nullable: pages filed another way (the scanning desk, imports) carry none.
    op.create_index("uq_loan_documents_upload_id", "loan_documents", ["upload_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_loan_documents_upload_id", table_name="loan_documents")
    with op.batch_alter_table("loan_documents") as batch:
        batch.drop_column("upload_id")
