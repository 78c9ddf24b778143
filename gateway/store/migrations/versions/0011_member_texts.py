"""member_texts: members' questions by SMS, for the organisers' inbox

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:45:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'member_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('received_at', gateway.store.models.UTCDateTime(), nullable=False),
        sa.Column('handled_at', gateway.store.models.UTCDateTime(), nullable=True),
        sa.Column('handled_by', sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_member_texts_member_id', 'member_texts', ['member_id'])
    op.create_index('ix_member_texts_received_at', 'member_texts', ['received_at'])


def downgrade() -> None:
    op.drop_index('ix_member_texts_received_at', table_name='member_texts')
    op.drop_index('ix_member_texts_member_id', table_name='member_texts')
    op.drop_table('member_texts')
