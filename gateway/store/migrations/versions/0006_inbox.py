"""inbox: inbound texts accepted by a webhook and not yet processed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:50:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_message_id', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('received_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'provider_message_id', name='uq_inbox_provider_id')
    )


def downgrade() -> None:
    op.drop_table('inbox')
