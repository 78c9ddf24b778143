"""a session's own reminder wording

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('training_sessions') as batch:
        batch.add_column(sa.Column('reminder_texts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('training_sessions') as batch:
        batch.drop_column('reminder_texts')
