"""appreciation recipients carry giver, privacy and time; all-time standings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00.000000

Counts per person and per period read `appreciation_recipients` alone, so each row gets
its appreciation's `giver_id`, `is_private` and `created_at`, with indexes on
(team_id, user_id, created_at, is_private) and (team_id, created_at, is_private,
user_id, giver_id) that the counting queries can read alone; the (team_id, user_id)
index is a prefix of the first and goes. The all-time leaderboard reads kept totals:
`all_time_givers` (public appreciation per recipient and giver) and `all_time_standings`
(per recipient: received and distinct givers). Existing rows are backfilled here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COPIED = ('giver_id', 'is_private', 'created_at')


def upgrade() -> None:
    with op.batch_alter_table('appreciation_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('giver_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('is_private', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('created_at', bot.store.db.UTCDateTime(timezone=True), nullable=True))

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'UPDATE appreciation_recipients AS r '
            'SET giver_id = a.giver_id, is_private = a.is_private, created_at = a.created_at '
            'FROM appreciations AS a WHERE a.id = r.appreciation_id'
        )
    else:
        op.execute(
            'UPDATE appreciation_recipients SET '
            + ', '.join(
                f'{column} = (SELECT a.{column} FROM appreciations AS a '
                f'WHERE a.id = appreciation_recipients.appreciation_id)'
                for column in COPIED
            )
        )

    with op.batch_alter_table('appreciation_recipients', schema=None) as batch_op:
        batch_op.alter_column('giver_id', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('is_private', existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column('created_at', existing_type=bot.store.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_appreciation_recipients_team_user')
        batch_op.create_index('ix_appreciation_recipients_team_user_created', ['team_id', 'user_id', 'created_at', 'is_private'], unique=False)
        batch_op.create_index('ix_appreciation_recipients_team_created', ['team_id', 'created_at', 'is_private', 'user_id', 'giver_id'], unique=False)

    op.create_table('all_time_givers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('giver_id', sa.String(length=32), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('enterprise_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_all_time_givers')),
    sa.UniqueConstraint('team_id', 'user_id', 'giver_id', name='uq_all_time_givers_team_user_giver')
    )
    op.create_table('all_time_standings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('givers', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('enterprise_id', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_all_time_standings')),
    sa.UniqueConstraint('team_id', 'user_id', name='uq_all_time_standings_team_user')
    )
    op.execute(
        'INSERT INTO all_time_givers (team_id, enterprise_id, user_id, giver_id, received) '
        'SELECT team_id, max(enterprise_id), user_id, giver_id, count(*) '
        'FROM appreciation_recipients WHERE NOT is_private '
        'GROUP BY team_id, user_id, giver_id'
    )
    op.execute(
        'INSERT INTO all_time_standings (team_id, enterprise_id, user_id, received, givers) '
        'SELECT team_id, max(enterprise_id), user_id, sum(received), count(*) '
        'FROM all_time_givers GROUP BY team_id, user_id'
    )


def downgrade() -> None:
    op.drop_table('all_time_standings')
    op.drop_table('all_time_givers')
    with op.batch_alter_table('appreciation_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_appreciation_recipients_team_created')
        batch_op.drop_index('ix_appreciation_recipients_team_user_created')
        batch_op.create_index('ix_appreciation_recipients_team_user', ['team_id', 'user_id'], unique=False)
        batch_op.drop_column('created_at')
        batch_op.drop_column('is_private')
        batch_op.drop_column('giver_id')
