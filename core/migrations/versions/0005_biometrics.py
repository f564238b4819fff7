"""fingerprint service: subject keys, captures, verifications, guarantors, duplicate hits, step-up tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 15:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import core.orm


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bio_subject_keys',
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('master_key_id', sa.String(length=16), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subject_kind', 'subject_id')
    )
    op.create_table('bio_captures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('finger', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('enrolled', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('minutiae', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('area_mm2', sa.Float(), nullable=False, server_default='0'),
    sa.Column('dpi', sa.Float(), nullable=False, server_default='500'),
    sa.Column('size', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('template_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('image_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('device', sa.String(length=100), nullable=False, server_default=''),
    sa.Column('captured_by', sa.String(length=64), nullable=False, server_default=''),
    sa.Column('captured_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256', name='uq_bio_captures_sha256')
    )
    op.create_index('ix_bio_captures_loan_id', 'bio_captures', ['loan_id'], unique=False)
    op.create_index('ix_bio_captures_subject', 'bio_captures', ['subject_kind', 'subject_id', 'enrolled'],
                    unique=False)
    op.create_table('bio_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('finger', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False, server_default='0'),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('reason', sa.String(length=400), nullable=False, server_default=''),
    sa.Column('device', sa.String(length=100), nullable=False, server_default=''),
    sa.Column('verified_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['bio_captures.id'], name='fk_bio_verifications_capture'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_bio_verifications_loan_id', 'bio_verifications', ['loan_id'], unique=False)
    op.create_table('loan_guarantors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_loan_guarantors_loan', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_loan_guarantors_customer'),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name='fk_loan_guarantors_added_by'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'customer_id', name='uq_loan_guarantor')
    )
    op.create_index('ix_loan_guarantors_loan_id', 'loan_guarantors', ['loan_id'], unique=False)
    op.create_table('bio_duplicate_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('other_customer_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=False),
    sa.Column('other_capture_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('found_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_bio_duplicate_hits_loan_id', 'bio_duplicate_hits', ['loan_id'], unique=False)
    op.create_table('bio_step_up_tokens',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('expires_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('used_at', core.orm.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    op.create_index('ix_bio_step_up_tokens_user_id', 'bio_step_up_tokens', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_bio_step_up_tokens_user_id', table_name='bio_step_up_tokens')
    op.drop_table('bio_step_up_tokens')
    op.drop_index('ix_bio_duplicate_hits_loan_id', table_name='bio_duplicate_hits')
    op.drop_table('bio_duplicate_hits')
    op.drop_index('ix_loan_guarantors_loan_id', table_name='loan_guarantors')
    op.drop_table('loan_guarantors')
    op.drop_index('ix_bio_verifications_loan_id', table_name='bio_verifications')
    op.drop_table('bio_verifications')
    op.drop_index('ix_bio_captures_subject', table_name='bio_captures')
    op.drop_index('ix_bio_captures_loan_id', table_name='bio_captures')
    op.drop_table('bio_captures')
    op.drop_table('bio_subject_keys')
