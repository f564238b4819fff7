"""workflow, outbox, idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:00:31.334845
"""
from alembic import op
import sqlalchemy as sa
import core.orm


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)

    op.create_table('workflow_versions',
    sa.Column('version', sa.String(length=80), nullable=False),
    sa.Column('origin', sa.String(length=400), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('loaded_at', core.orm.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('delivered_messages',
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('recipient_phone', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('delivered_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('read_at', core.orm.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('outbox_id')
    )
    with op.batch_alter_table('delivered_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivered_messages_recipient_phone'), ['recipient_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivered_messages_recipient_user_id'), ['recipient_user_id'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_office_id'), ['office_id'], unique=False)

    op.create_table('loan_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('filed_at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'code', 'page', name='uq_loan_document_page')
    )
    with op.batch_alter_table('loan_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_documents_loan_id'), ['loan_id'], unique=False)

    op.create_table('loan_duties',
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('duty', sa.String(length=40), nullable=False),
    sa.Column('at', core.orm.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('loan_id', 'user_id', 'duty')
    )
    op.create_table('loan_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_stage', sa.String(length=40), nullable=False),
    sa.Column('to_stage', sa.String(length=40), nullable=False),
    sa.Column('maker_id', sa.Integer(), nullable=True),
    sa.Column('maker_role', sa.String(length=32), nullable=False),
    sa.Column('checker_of_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('definition_version', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['checker_of_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['maker_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loan_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_events_loan_id'), ['loan_id'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('recipient_phone', sa.String(length=32), nullable=False),
    sa.Column('recipient_name', sa.String(length=100), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', core.orm.UTCDateTime(), nullable=False),
    sa.Column('not_before', core.orm.UTCDateTime(), nullable=False),
    sa.Column('claimed_until', core.orm.UTCDateTime(), nullable=True),
    sa.Column('sent_at', core.orm.UTCDateTime(), nullable=True),
    sa.Column('gateway_reference', sa.String(length=100), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status'], unique=False)

    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sender_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stage_acted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('assignments', sa.Text(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('flags', sa.Text(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('due_at', core.orm.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key('fk_loans_sender_id_users', 'users', ['sender_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('loans', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_loans_sender_id_users', type_='foreignkey')
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('due_at')
        batch_op.drop_column('flags')
        batch_op.drop_column('assignments')
        batch_op.drop_column('stage_acted')
        batch_op.drop_column('sender_id')
        batch_op.drop_column('region')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_loan_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('loan_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_events_loan_id'))

    op.drop_table('loan_events')
    op.drop_table('loan_duties')
    with op.batch_alter_table('loan_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_documents_loan_id'))

    op.drop_table('loan_documents')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_office_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_loan_id'))

    op.drop_table('feedback')
    with op.batch_alter_table('delivered_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivered_messages_recipient_user_id'))
        batch_op.drop_index(batch_op.f('ix_delivered_messages_recipient_phone'))

    op.drop_table('delivered_messages')
    op.drop_table('workflow_versions')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))

    op.drop_table('idempotency_keys')
