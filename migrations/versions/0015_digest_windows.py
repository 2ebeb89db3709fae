"""the days each digest covers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:00:00.000000

A digest covers the time since the previous one, so the days each posted digest covered are
kept in `digests`: the next one starts where the latest ended. Digests already queued or
posted (outbox keys `digest:<week>:<channel>`) are copied in without their days, which
depend on the workspace's timezone that only the running app knows: the app reads them as
that ISO week, Monday to Monday in the workspace's timezone, up to when it was built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('week', sa.String(length=8), nullable=False),
        sa.Column('channel_id', sa.String(length=32), nullable=False),
        sa.Column('starts_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('ends_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('created_at', bot.store.db.UTCDateTime(), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_digests')),
        sa.UniqueConstraint(
            'team_id', 'week', 'channel_id', name='uq_digests_team_week_channel'
        ),
    )
    # `digest:2026-W48:C111`: the week is characters 8-15, the channel what follows.
    # A digest Slack refused for good covered nothing; the next one takes its days.
    op.execute(
        """
        INSERT INTO digests (team_id, enterprise_id, week, channel_id, created_at)
        SELECT team_id, enterprise_id, substr(dedupe_key, 8, 8), substr(dedupe_key, 17),
               created_at
        FROM outbox
        WHERE dedupe_key LIKE 'digest:____-W__:%' AND status <> 'failed'
        """
    )


def downgrade() -> None:
    op.drop_table('digests')
