"""Alembic environment: runs against the connection `bot.store.migrate` hands over,
or against DATABASE_URL when invoked as `alembic` from the repository root."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.config import Settings
from bot.store.db import make_engine
from bot.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(Settings.from_env().database_url)
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()
