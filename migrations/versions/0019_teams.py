"""teams: the workspace's user groups and their members, for the insights page

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 22:00:00.000000

`teams` and `team_members` hold what `usergroups.list` last said (read with the members
twice a day); `workspaces.teams_refreshed_at` says when.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("team_id", "group_id", name="uq_teams_team_group"),
    )
    op.create_table(
        "team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint(
            "team_id", "group_id", "user_id", name="uq_team_members_team_group_user"
        ),
    )
    op.create_index(
        "ix_team_members_team_user", "team_members", ["team_id", "user_id", "group_id"]
    )
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("teams_refreshed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("teams_refreshed_at")
    op.drop_index("ix_team_members_team_user", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
