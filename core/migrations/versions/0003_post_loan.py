"""post-loan management, SMS ledger, dashboard indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 14:09:07.887288
"""
from alembic import op
import sqlalchemy as sa
import core.orm


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_parts',
    sa.Column('message_id', sa.String(length=65), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('part_no', sa.Integer(), nullable=False),
    sa.Column('receipt_state', sa.String(length=16), nullable=False),
    sa.Column('receipt_at', core.orm.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('sms_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_parts_outbox_id'), ['outbox_id'], unique=False)

    op.create_table('sms_submissions',
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=400), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('updated_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('outbox_id')
    )
    op.create_table('postloan_loans',
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('disbursed_on', sa.Date(), nullable=False),
    sa.Column('maturity_on', sa.Date(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_fen', sa.BigInteger(), nullable=False),
    sa.Column('rule_version', sa.String(length=40), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('checked', sa.Boolean(), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', core.orm.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('rating_open', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name='fk_postloan_loans_checker'),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_postloan_loans_loan', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name='fk_postloan_loans_manager'),
    sa.PrimaryKeyConstraint('loan_id')
    )
    with op.batch_alter_table('postloan_loans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postloan_loans_manager_id'), ['manager_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postloan_loans_status'), ['status'], unique=False)

    op.create_table('postloan_print_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('verified_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('used_by_record_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_postloan_prints_customer'),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_postloan_prints_loan', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('postloan_print_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postloan_print_checks_loan_id'), ['loan_id'], unique=False)

    op.create_table('postloan_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('attitude', sa.Integer(), nullable=False),
    sa.Column('skill', sa.Integer(), nullable=False),
    sa.Column('suggestions', sa.Text(), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_postloan_ratings_loan', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['officer_id'], ['users.id'], name='fk_postloan_ratings_officer'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id')
    )
    with op.batch_alter_table('postloan_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postloan_ratings_officer_id'), ['officer_id'], unique=False)

    op.create_table('postloan_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('on_day', sa.Date(), nullable=False),
    sa.Column('covers_due_on', sa.Date(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('pages', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_postloan_records_loan', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name='fk_postloan_records_user'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('postloan_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postloan_records_loan_id'), ['loan_id'], unique=False)

    op.create_table('postloan_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('run_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('only_if_unpaid', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done_at', core.orm.UTCDateTime(), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name='fk_postloan_tasks_loan', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'kind', 'due_on', name='uq_postloan_task')
    )
    with op.batch_alter_table('postloan_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_postloan_tasks_due', ['status', 'run_at'], unique=False)

    op.create_table('insight_stage_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('spans', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'stage', 'office_id')
    )
    op.create_table('insight_watermarks',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('loan_events', schema=None) as batch_op:
        batch_op.create_index('ix_loan_events_loan_at', ['loan_id', 'at'], unique=False)

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index('ix_loans_insight', ['office_id', 'created_at', 'stage', 'product', 'amount_fen',
                                                   'officer_a_id', 'due_at', 'updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index('ix_loans_insight')

    with op.batch_alter_table('loan_events', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_events_loan_at')

    op.drop_table('insight_watermarks')
    op.drop_table('insight_stage_days')

    with op.batch_alter_table('postloan_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_postloan_tasks_due')

    op.drop_table('postloan_tasks')
    with op.batch_alter_table('postloan_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postloan_records_loan_id'))

    op.drop_table('postloan_records')
    with op.batch_alter_table('postloan_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postloan_ratings_officer_id'))

    op.drop_table('postloan_ratings')
    with op.batch_alter_table('postloan_print_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postloan_print_checks_loan_id'))

    op.drop_table('postloan_print_checks')
    with op.batch_alter_table('postloan_loans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postloan_loans_status'))
        batch_op.drop_index(batch_op.f('ix_postloan_loans_manager_id'))

    op.drop_table('sms_submissions')
    op.drop_table('sms_parts')
