"""messages keep their body for a while, revoked tokens are remembered

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00.000000

`outbox.claim_token` fences a sender's claim: its renewals and marks touch the row only while
the token is theirs. `outbox.erased_at` is when a sent message's body was erased (after
ADVOCATE_MESSAGE_RETENTION_DAYS): only its key is left, while it still deduplicates. The
index on (status, erased_at, created_at) is what the retention walks. `bot_tokens.revoked_at` is when
the app was uninstalled from the token's workspace: that token never registers it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('erased_at', bot.store.db.UTCDateTime(), nullable=True))
        batch.create_index(
            'ix_outbox_status_erased_created', ['status', 'erased_at', 'created_at']
        )
    with op.batch_alter_table('bot_tokens') as batch:
        batch.add_column(sa.Column('revoked_at', bot.store.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bot_tokens') as batch:
        batch.drop_column('revoked_at')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_status_erased_created')
        batch.drop_column('erased_at')
        batch.drop_column('claim_token')
