"""all-time standings keep when each person was first publicly appreciated

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 12:00:00.000000

The digest names its first-timers: people publicly appreciated that week and never
before. Asking history about each of them took one lookup per person; the standing now
keeps `first_public_at`, with an index on (team_id, first_public_at), so a week's
first-timers are one range read. Existing standings are backfilled from history here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('all_time_standings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_public_at', bot.store.db.UTCDateTime(timezone=True), nullable=True))

    op.execute(
        'UPDATE all_time_standings SET first_public_at = ('
        'SELECT min(r.created_at) FROM appreciation_recipients AS r '
        'WHERE r.team_id = all_time_standings.team_id '
        'AND r.user_id = all_time_standings.user_id AND NOT r.is_private)'
    )
    # A standing with no public appreciation left behind it counts nothing.
    op.execute('DELETE FROM all_time_standings WHERE first_public_at IS NULL')

    with op.batch_alter_table('all_time_standings', schema=None) as batch_op:
        batch_op.alter_column('first_public_at', existing_type=bot.store.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_all_time_standings_team_first_public', ['team_id', 'first_public_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('all_time_standings', schema=None) as batch_op:
        batch_op.drop_index('ix_all_time_standings_team_first_public')
        batch_op.drop_column('first_public_at')
