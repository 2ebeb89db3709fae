"""slack requests are stored before they are acknowledged; processed events go

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:00:00.000000

Every verified request from Slack is written to `slack_requests`, keyed by Slack's own
identity of the delivery, before it is acknowledged; workers claim and run it from there.
The key also deduplicates Events API retries, which `processed_events` did before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'slack_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=191), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('fast', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', bot.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=128), nullable=True),
        sa.Column('received_at', bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('done_at', bot.store.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_requests')),
        sa.UniqueConstraint('key', name='uq_slack_requests_key'),
    )
    with op.batch_alter_table('slack_requests', schema=None) as batch_op:
        batch_op.create_index('ix_slack_requests_status_fast_id', ['status', 'fast', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slack_requests_done_at'), ['done_at'], unique=False)
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_events_received_at'))
    op.drop_table('processed_events')


def downgrade() -> None:
    op.create_table(
        'processed_events',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=True),
        sa.Column('received_at', bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_processed_events')),
    )
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_events_received_at'), ['received_at'], unique=False)
    with op.batch_alter_table('slack_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_requests_done_at'))
        batch_op.drop_index('ix_slack_requests_status_fast_id')
    op.drop_table('slack_requests')
