"""words said in a private conversation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00.000000

An appreciation whose words come from a private channel, a group DM or a DM is counted like
any other but quoted only where it was said and to its people: `appreciations.said_in_private`
says so. Existing rows linked to a message (a reaction, **Appreciate this**) or to an ask
came from a conversation whose privacy was never recorded; they are taken as private, so that
nothing said in private is quoted by mistake. The others (typed with `/appreciate`, or in the
form) stay as they were.

`asks.said_in_private` says the same of an ask (asks live in channels only). It is empty for
asks from before: the app asks Slack about their channel when it needs to know.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch with a default would copy the table and
    # drop the old one, and with foreign keys on that drop deletes every recipient and
    # outbox row of every appreciation (ON DELETE CASCADE).
    op.add_column(
        'appreciations',
        sa.Column('said_in_private', sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column('asks', sa.Column('said_in_private', sa.Boolean(), nullable=True))
    appreciations = sa.table(
        'appreciations',
        sa.column('said_in_private', sa.Boolean()),
        sa.column('message_ts', sa.String()),
        sa.column('ask_id', sa.Integer()),
    )
    op.execute(
        appreciations.update()
        .where(sa.or_(appreciations.c.message_ts.is_not(None), appreciations.c.ask_id.is_not(None)))
        .values(said_in_private=True)
    )


def downgrade() -> None:
    # DROP COLUMN (SQLite 3.35 and later), for the same reason.
    op.drop_column('asks', 'said_in_private')
    op.drop_column('appreciations', 'said_in_private')
