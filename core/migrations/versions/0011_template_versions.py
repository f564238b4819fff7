"""Every stored fingerprint template carries its version (exact SourceAFIS or the accuracy mode).

A capture migrated to the other mode is a second row with the same SHA-256, so the SHA-256 is
unique together with the version instead of alone (a replay is still refused by SHA-256 alone,
in the service). Rows written before this revision are the exact mode's.

Revision ID: 0011
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None

EXACT = "3.18.1-python"


def upgrade() -> None:
    with op.batch_alter_table("bio_captures") as batch:
        batch.add_column(sa.Column("template_version", sa.String(40), nullable=False, server_default=EXACT))
        batch.drop_constraint("uq_bio_captures_sha256", type_="unique")
        batch.create_unique_constraint("uq_bio_captures_sha256_version", ["sha256", "template_version"])
    with op.batch_alter_table("bio_verifications") as batch:
        batch.add_column(sa.Column("template_version", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("bio_verifications") as batch:
        batch.drop_column("template_version")
    # Templates of the accuracy mode have no place in the older schema: deleting them would lose
    # enrollments and verification records, so the downgrade refuses instead.
    others = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM bio_captures WHERE template_version <> :exact"), {"exact": EXACT}).scalar()
    if others:
        raise RuntimeError(f"{others} captures hold accuracy-mode templates; re-enroll them in the exact mode "
                           "and delete them before downgrading below 0011")
    with op.batch_alter_table("bio_captures") as batch:
        batch.drop_constraint("uq_bio_captures_sha256_version", type_="unique")
        batch.create_unique_constraint("uq_bio_captures_sha256", ["sha256"])
        batch.drop_column("template_version")
