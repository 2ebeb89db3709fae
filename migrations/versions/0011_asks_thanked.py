"""asks remember when they were thanked

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:00:00.000000

The appreciation that closes an ask is posted in the ask's thread, and the ask's status
line says it was thanked: `asks.thanked_at` is when that first happened.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('asks') as batch:
        batch.add_column(sa.Column('thanked_at', bot.store.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('asks') as batch:
        batch.drop_column('thanked_at')
