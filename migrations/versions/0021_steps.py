"""Workflow Builder steps: each run of a step, with its function token while it is open

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 22:30:00.000000

`step_executions` holds one row per run of the app's custom steps (`appreciate`,
`ask_for_commitment`), keyed by Slack's function execution id: the run's token (erased
once the run is completed or failed), its status, and when an ask's run is complete.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import bot.store.db
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "step_executions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("callback_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("complete_when", sa.String(length=16), nullable=True),
        sa.Column("created_at", bot.store.db.UTCDateTime(), nullable=False),
        sa.Column("closed_at", bot.store.db.UTCDateTime(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_executions")),
        sa.UniqueConstraint(
            "team_id", "execution_id", name="uq_step_executions_team_execution"
        ),
    )


def downgrade() -> None:
    op.drop_table("step_executions")
