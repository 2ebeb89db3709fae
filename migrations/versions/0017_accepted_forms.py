"""a form's accepted values are stored with its submission

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:00:00.000000

`slack_requests.accepted` holds what a view submission's check accepted before the modal
closed (JSON): the worker applies exactly that and never checks it again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('slack_requests') as batch:
        batch.add_column(sa.Column('accepted', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('slack_requests') as batch:
        batch.drop_column('accepted')
