"""Apply the Alembic migrations in `migrations/` (shipped in the package as bot._migrations)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

# The PostgreSQL advisory lock migrations take (any constant the app alone uses).
LOCK_KEY = 0x416476_6F63


def _script_location() -> str:
    import bot._migrations as shipped  # type: ignore[import-not-found]

    return str(Path(shipped.__file__).parent)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", _script_location())
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision.

    On SQLite every process migrates its database as it starts (`advocate run`, `worker`,
    `scheduler`), and SQLite runs DDL without the lock a transaction would take: processes
    started together take turns on a lock file beside the database, and each after the
    first finds the schema done. On PostgreSQL `advocate migrate` run by several replicas at
    once takes turns on an advisory lock."""
    config = alembic_config(engine)
    with _sqlite_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Replicas started together on PostgreSQL take turns the same way: a lock held
            # until this transaction ends, so the next one finds the schema done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    with open(f"{path}-migrate", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pending(engine: Engine) -> bool:
    """True when the database is behind the newest revision."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) != set(script.get_heads())
