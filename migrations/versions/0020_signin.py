"""sign in with Slack: one-time states and web sessions

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 22:00:00.000000

`signin_states` holds each sign-in under way (the OpenID Connect `state`, its `nonce`, where
to return, an expiry); `web_sessions` the sessions of people signed in to the web pages, by
the SHA-256 of the random id their cookie carries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("return_to", sa.String(length=512), nullable=False),
        sa.Column("created_at", bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_states")),
        sa.UniqueConstraint("state", name="uq_signin_states_state"),
    )
    op.create_index("ix_signin_states_expires_at", "signin_states", ["expires_at"], unique=False)
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.store.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("id_sha256", name="uq_web_sessions_id_sha256"),
    )
    op.create_index(
        "ix_web_sessions_team_user", "web_sessions", ["team_id", "user_id"], unique=False
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_team_user", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_signin_states_expires_at", table_name="signin_states")
    op.drop_table("signin_states")
