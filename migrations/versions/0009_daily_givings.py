"""daily givings: the daily limit as a counter per giver and local day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00.000000

Counting a giver's appreciations of the day and then inserting one let a burst of
simultaneous requests all see room under the limit. Each appreciation now takes one from
a counter row per (workspace, giver, local day) with a conditional upsert, which the
database serialises on that row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'daily_givings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('giver_id', sa.String(length=32), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('given', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.String(length=32), nullable=False),
        sa.Column('enterprise_id', sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_givings')),
        sa.UniqueConstraint('team_id', 'giver_id', 'day', name='uq_daily_givings_team_giver_day'),
    )


def downgrade() -> None:
    op.drop_table('daily_givings')
