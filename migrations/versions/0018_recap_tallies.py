"""recap tallies: each person's appreciation per year, kept as it is recorded

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:00:00.000000

`recap_tallies` holds, per person and year, the appreciations they gave and received
(`colleague_id` empty) and how often they appreciated each colleague (`thanked`), private
appreciation included, so that a year-end recap reads a few rows per person instead of
grouping a year of history. A year is the UTC year less its first and last 14 hours
(`bot.store.queries.tallied_year`); what falls in those hours is not tallied. Existing
appreciation is tallied here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recap_tallies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("colleague_id", sa.String(length=32), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("thanked", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recap_tallies")),
        sa.UniqueConstraint(
            "team_id",
            "year",
            "colleague_id",
            "user_id",
            name="uq_recap_tallies_team_year_colleague_user",
        ),
    )
    op.create_index(
        "ix_recap_tallies_team_year_user_thanked",
        "recap_tallies",
        ["team_id", "year", "user_id", sa.text("thanked DESC"), "colleague_id"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        utc = "(created_at AT TIME ZONE 'UTC')"
        year = f"CAST(EXTRACT(YEAR FROM {utc}) AS INTEGER)"
        moment = f"to_char({utc}, 'MM-DD HH24:MI')"
    else:
        year = "CAST(strftime('%Y', created_at) AS INTEGER)"
        moment = "strftime('%m-%d %H:%M', created_at)"
    tallied = f"{moment} >= '01-01 14:00' AND {moment} < '12-31 10:00'"
    op.execute(
        "INSERT INTO recap_tallies "
        "(team_id, enterprise_id, year, user_id, colleague_id, given, received, thanked) "
        "SELECT team_id, max(enterprise_id), year, user_id, colleague_id, "
        "sum(given), sum(received), sum(thanked) FROM ("
        f"SELECT team_id, enterprise_id, {year} AS year, giver_id AS user_id, "
        "'' AS colleague_id, 1 AS given, 0 AS received, 0 AS thanked "
        f"FROM appreciations WHERE {tallied} "
        "UNION ALL "
        f"SELECT team_id, enterprise_id, {year}, user_id, '', 0, 1, 0 "
        f"FROM appreciation_recipients WHERE {tallied} "
        "UNION ALL "
        f"SELECT team_id, enterprise_id, {year}, giver_id, user_id, 0, 0, 1 "
        f"FROM appreciation_recipients WHERE {tallied}"
        ") AS history GROUP BY team_id, year, user_id, colleague_id"
    )


def downgrade() -> None:
    op.drop_index("ix_recap_tallies_team_year_user_thanked", table_name="recap_tallies")
    op.drop_table("recap_tallies")
