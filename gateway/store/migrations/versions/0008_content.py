"""content: flows and prompt catalogs as versioned documents in the database, and the wording editor's unpublished edits

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:00:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'content_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('author', sa.String(length=254), nullable=False),
        sa.Column('based_on', sa.Integer(), nullable=True),
        sa.Column('shipped_digest', sa.String(length=64), nullable=True),
        sa.Column('created_at', gateway.store.models.UTCDateTime(), nullable=False),
        sa.Column('published_at', gateway.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shipped_digest'),
    )
    op.create_index('ix_content_versions_status', 'content_versions', ['status'])
    op.create_index('one_published_version', 'content_versions', ['status'], unique=True,
                    sqlite_where=sa.text("status = 'published'"),
                    postgresql_where=sa.text("status = 'published'"))
    op.create_table(
        'content_documents',
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['version_id'], ['content_versions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('version_id', 'name'),
    )


    op.create_table(
        'content_edits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('base', sa.Text(), nullable=True),
        sa.Column('author', sa.String(length=254), nullable=False),
        sa.Column('saved_at', gateway.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('language', 'key', name='one_edit_per_text'),
    )


def downgrade() -> None:
    op.drop_table('content_edits')
    op.drop_table('content_documents')
    op.drop_index('one_published_version', table_name='content_versions')
    op.drop_index('ix_content_versions_status', table_name='content_versions')
    op.drop_table('content_versions')
