"""accounts: disabling an account, and ending every session of hers at once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 15:00:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('disabled_at', gateway.store.models.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_version')
        batch.drop_column('disabled_at')
