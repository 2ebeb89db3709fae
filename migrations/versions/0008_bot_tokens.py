"""bot tokens remember the workspace they belong to

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00.000000

In token mode the app serves exactly the workspace its token belongs to. `auth.test` says
which; `bot_tokens` remembers the answer per token (by the token's SHA-256, never the token),
so commands that only read the database need not ask Slack, and a new token whose workspace
differs from the last one's is noticed once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'bot_tokens',
        sa.Column('token_sha256', sa.String(length=64), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.Column('org_wide', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('first_seen_at', bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_bot_tokens')),
    )


def downgrade() -> None:
    op.drop_table('bot_tokens')
