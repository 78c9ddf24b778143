"""surveys: members' answers to the surveys organisers write, and closed surveys' totals

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:00:00
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'survey_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey', sa.String(length=40), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('sensitive', sa.Boolean(), nullable=False),
        sa.Column('province', sa.String(length=40), nullable=True),
        sa.Column('language', sa.String(length=12), nullable=True),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('answered_at', gateway.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('survey', 'member_id', name='one_response_per_member'),
    )
    op.create_index('ix_survey_responses_survey', 'survey_responses', ['survey'])
    op.create_index('ix_survey_responses_member_id', 'survey_responses', ['member_id'])
    op.create_table(
        'survey_closures',
        sa.Column('survey', sa.String(length=40), nullable=False),
        sa.Column('closed_at', gateway.store.models.UTCDateTime(), nullable=False),
        sa.Column('actor', sa.String(length=254), nullable=False),
        sa.Column('sensitive', sa.Boolean(), nullable=False),
        sa.Column('responses', sa.Integer(), nullable=False),
        sa.Column('results', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('survey'),
    )


def downgrade() -> None:
    op.drop_table('survey_closures')
    op.drop_index('ix_survey_responses_member_id', table_name='survey_responses')
    op.drop_index('ix_survey_responses_survey', table_name='survey_responses')
    op.drop_table('survey_responses')
