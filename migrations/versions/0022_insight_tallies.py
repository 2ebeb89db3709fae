"""insight tallies: each closed week's appreciation per person, per value and between teams,
and per person over the spans of closed weeks that pages read

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 01:30:00.000000

The insights page reads a closed week from these few rows instead of its history; the
current week is still read from history. `insight_tallied_weeks` says which weeks are
worked out. Nothing is backfilled: a week is worked out the first time it is needed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _scope() -> list[sa.Column]:
    return [
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "insight_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("public_received", sa.Integer(), nullable=False),
        sa.Column("public_givers", sa.Integer(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_weeks")),
        sa.UniqueConstraint("team_id", "week", "user_id", name="uq_insight_weeks_team_week_user"),
    )
    op.create_index(
        "ix_insight_weeks_team_user_week", "insight_weeks", ["team_id", "user_id", "week"]
    )
    op.create_table(
        "insight_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("public_received", sa.Integer(), nullable=False),
        sa.Column("public_givers", sa.Integer(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_spans")),
        sa.UniqueConstraint(
            "team_id", "starts_on", "ends_on", "user_id", name="uq_insight_spans_team_span_user"
        ),
    )
    op.create_table(
        "insight_team_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_team_spans")),
        sa.UniqueConstraint(
            "team_id",
            "group_id",
            "starts_on",
            "ends_on",
            "kind",
            "key",
            name="uq_insight_team_spans_team_group_span_key",
        ),
    )
    op.create_table(
        "insight_team_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("carried", sa.String(length=32), nullable=False),
        sa.Column("thanks", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_team_weeks")),
        sa.UniqueConstraint(
            "team_id", "week", "carrier", "carried", name="uq_insight_team_weeks_team_week_pair"
        ),
    )
    op.create_table(
        "insight_value_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("cited", sa.Integer(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_value_weeks")),
        sa.UniqueConstraint(
            "team_id", "week", "value", name="uq_insight_value_weeks_team_week_value"
        ),
    )
    op.create_table(
        "insight_tallied_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("tallied_at", bot.store.db.UTCDateTime(), nullable=False),
        *_scope(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_tallied_weeks")),
        sa.UniqueConstraint(
            "team_id", "kind", "week", name="uq_insight_tallied_weeks_team_kind_week"
        ),
    )


def downgrade() -> None:
    for table in (
        "insight_tallied_weeks",
        "insight_value_weeks",
        "insight_team_weeks",
        "insight_team_spans",
        "insight_spans",
    ):
        op.drop_table(table)
    op.drop_index("ix_insight_weeks_team_user_week", table_name="insight_weeks")
    op.drop_table("insight_weeks")
