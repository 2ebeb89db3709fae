"""appreciation by emoji reaction

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:00:00.000000

A reaction with one of `ADVOCATE_REACTIONS` on a message appreciates its author:
`reaction_thanks` keeps one row per message and giver, so a redelivered event, another
emoji or an add/remove/add counts once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'reaction_thanks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.String(length=32), nullable=False),
        sa.Column('message_ts', sa.String(length=32), nullable=False),
        sa.Column('giver_id', sa.String(length=32), nullable=False),
        sa.Column('author_id', sa.String(length=32), nullable=False),
        sa.Column('reaction', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('appreciation_id', sa.Integer(), nullable=True),
        sa.Column('created_at', bot.store.db.UTCDateTime(), nullable=False),
        sa.Column('counted_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('withdrawn_at', bot.store.db.UTCDateTime(), nullable=True),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reaction_thanks')),
        sa.UniqueConstraint(
            'team_id', 'channel_id', 'message_ts', 'giver_id', name='uq_reaction_thanks_message'
        ),
    )


def downgrade() -> None:
    op.drop_table('reaction_thanks')
