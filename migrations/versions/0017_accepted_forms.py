"""a form's accepted values and a request's replies; who holds a message's claim

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:00:00.000000

`slack_requests.accepted` holds what a view submission's check accepted before the modal
closed (JSON): the worker applies exactly that and never checks it again.
`slack_requests.replies` counts the replies a request has made to its person, so that a run
after a crash does not make them again (bot/replies.py). `outbox.claimed_by` is the process
holding a message's claim: one that died on the same machine is taken back at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
    with op.batch_alter_table("slack_requests") as batch:
        batch.add_column(sa.Column("accepted", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("replies", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_requests") as batch:
        batch.drop_column("replies")
        batch.drop_column("accepted")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
