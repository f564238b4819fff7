"""credit archive: filed records and signed credit-file indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 14:10:00.000000
"""
from alembic import op
import sqlalchemy as sa
import core.orm


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archive_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False, server_default='1'),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False, server_default=''),
    sa.Column('meeting_id', sa.String(length=64), nullable=True),
    sa.Column('retention_kind', sa.String(length=64), nullable=False),
    sa.Column('legal_hold', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('filed_by', sa.String(length=64), nullable=False, server_default=''),
    sa.Column('filed_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_archive_entries_loan', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name='fk_archive_entries_filed_by'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'kind', 'code', 'seq', name='uq_archive_entry_identity')
    )
    with op.batch_alter_table('archive_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_entries_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_entries_digest'), ['digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_archive_entries_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('ix_archive_entries_loan_kind', ['loan_id', 'kind'], unique=False)

    op.create_table('credit_file_indexes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('canonical', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('issued_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_credit_file_indexes_loan', ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'version', name='uq_credit_file_index_version')
    )
    with op.batch_alter_table('credit_file_indexes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_file_indexes_loan_id'), ['loan_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('credit_file_indexes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_file_indexes_loan_id'))
    op.drop_table('credit_file_indexes')
    with op.batch_alter_table('archive_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_archive_entries_loan_kind')
        batch_op.drop_index(batch_op.f('ix_archive_entries_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_archive_entries_digest'))
        batch_op.drop_index(batch_op.f('ix_archive_entries_loan_id'))
    op.drop_table('archive_entries')
