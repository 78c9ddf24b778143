"""outbound_messages.job_id (the job that owns a queued row); audit_events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:10:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages') as batch:
        batch.add_column(sa.Column('job_id', sa.String(length=64), nullable=True))
        batch.create_index(batch.f('ix_outbound_messages_job_id'), ['job_id'], unique=False)
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events') as batch:
        batch.create_index(batch.f('ix_audit_events_at'), ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('audit_events')
    with op.batch_alter_table('outbound_messages') as batch:
        batch.drop_index(batch.f('ix_outbound_messages_job_id'))
        batch.drop_column('job_id')
