"""polls, votes and replies; session feedback; reminder kind; broadcasts.send_after; longer member name
for voice recordings; reminder calls (members.reminder_channel, members.sms_active_at, enrolments.confirmed_at,
broadcasts.by_preference)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:03:28.044597
"""
import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('broadcast_id', sa.Integer(), nullable=True),
    sa.Column('confirm', sa.Boolean(), nullable=False),
    sa.Column('opens_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.Column('closes_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.Column('closed_at', gateway.store.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_session_id'), ['session_id'], unique=False)

    op.create_table('poll_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('text', sa.String(length=160), nullable=False),
    sa.Column('received_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('poll_replies', schema=None) as batch_op:
        batch_op.create_index('ix_poll_replies_poll_member', ['poll_id', 'member_id'], unique=False)

    op.create_table('poll_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.Integer(), nullable=False),
    sa.Column('province', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('first_voted_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.Column('voted_at', gateway.store.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('poll_id', 'member_id', name='uq_poll_vote')
    )
    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.create_index('ix_poll_votes_tally', ['poll_id', 'option', 'province', 'language'], unique=False)

    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_after', gateway.store.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', gateway.store.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('by_preference', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_channel', sa.String(length=8), nullable=False,
                                      server_default='sms'))
        batch_op.add_column(sa.Column('sms_active_at', gateway.store.models.UTCDateTime(), nullable=True))
        # A name or organisation recorded on a voice call is stored as the recording's URL.
        batch_op.alter_column('name', existing_type=sa.String(length=80), type_=sa.String(length=300))
        batch_op.alter_column('organisation', existing_type=sa.String(length=120), type_=sa.String(length=300))

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        # Existing rows are all session reminders.
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=False,
                                      server_default='reminder'))

    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_after_minutes', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_column('feedback_after_minutes')

    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('by_preference')

    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('sms_active_at')
        batch_op.drop_column('reminder_channel')
        batch_op.alter_column('organisation', existing_type=sa.String(length=300), type_=sa.String(length=120))
        batch_op.alter_column('name', existing_type=sa.String(length=300), type_=sa.String(length=80))

    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('send_after')

    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.drop_index('ix_poll_votes_tally')

    op.drop_table('poll_votes')
    with op.batch_alter_table('poll_replies', schema=None) as batch_op:
        batch_op.drop_index('ix_poll_replies_poll_member')

    op.drop_table('poll_replies')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_session_id'))

    op.drop_table('polls')
