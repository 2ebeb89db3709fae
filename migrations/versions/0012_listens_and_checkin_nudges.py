"""listens and check-in nudges

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:00:00.000000

`/listen` asks a colleague privately what they need: `listens` keeps the question, the
answer and its follow-through. `checkin_nudges` remembers whom each week's check-in
suggested thanking, so the next week's suggests someone else. Asks get indexes by asker
and by helper, for the Home's "your people".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'listens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asker_id', sa.String(length=32), nullable=False),
        sa.Column('colleague_id', sa.String(length=32), nullable=False),
        sa.Column('topic', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('open_key', sa.String(length=80), nullable=True),
        sa.Column('need', sa.Text(), nullable=True),
        sa.Column('obstacle', sa.Text(), nullable=True),
        sa.Column('preference', sa.Text(), nullable=True),
        sa.Column('answer_key', sa.String(length=128), nullable=True),
        sa.Column('followup', sa.String(length=16), nullable=False),
        sa.Column('not_yet', sa.Integer(), nullable=False),
        sa.Column('followup_week', sa.String(length=8), nullable=True),
        sa.Column('source_key', sa.String(length=128), nullable=False),
        sa.Column('created_at', bot.store.db.UTCDateTime(), nullable=False),
        sa.Column('answered_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('declined_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('will_act_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('acted_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_listens')),
        sa.UniqueConstraint(
            'team_id', 'source_key', 'colleague_id', name='uq_listens_team_source'
        ),
        sa.UniqueConstraint('team_id', 'open_key', name='uq_listens_team_open'),
    )
    op.create_index('ix_listens_team_asker', 'listens', ['team_id', 'asker_id'])
    op.create_index('ix_listens_team_colleague', 'listens', ['team_id', 'colleague_id'])
    op.create_table(
        'checkin_nudges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('week', sa.String(length=8), nullable=False),
        sa.Column('target_user_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', bot.store.db.UTCDateTime(), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_nudges')),
        sa.UniqueConstraint(
            'team_id', 'user_id', 'week', name='uq_checkin_nudges_team_user_week'
        ),
    )
    op.create_index('ix_asks_team_asker', 'asks', ['team_id', 'asker_id'])
    op.create_index('ix_asks_team_helper', 'asks', ['team_id', 'helper_id'])


def downgrade() -> None:
    op.drop_index('ix_asks_team_helper', table_name='asks')
    op.drop_index('ix_asks_team_asker', table_name='asks')
    op.drop_table('checkin_nudges')
    op.drop_index('ix_listens_team_colleague', table_name='listens')
    op.drop_index('ix_listens_team_asker', table_name='listens')
    op.drop_table('listens')
