"""The Alembic migrations create exactly what the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.store import migrate
from bot.store.db import Database
from bot.store.models import Base


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrated_database_has_nothing_pending(db: Database) -> None:
    assert migrate.pending(db.engine) is False


def test_upgrading_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.pending(db.engine) is False
