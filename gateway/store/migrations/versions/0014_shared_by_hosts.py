"""what every host must agree on: the deployment's secrets, organisers' recordings,
and the tombstones erasures leave

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:00:00

New tables only: a host still on the previous release goes on working while it
runs (it keeps its secret and recordings on its own disk until it is upgraded).
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "recordings",
        sa.Column("language", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(254), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "erasure_tombstones",
        sa.Column("phone_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erasure_tombstones")
    op.drop_table("recordings")
    op.drop_table("deployment_secrets")
