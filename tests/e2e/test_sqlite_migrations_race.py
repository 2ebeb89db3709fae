"""Processes started together on a new database each migrate it first (advocate run,
worker, scheduler do on SQLite; replicas running `advocate migrate` on PostgreSQL): one
creates the schema, the others find it done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.store import migrate
from tests.conftest import POSTGRES_ENV, postgres_database
from tests.e2e.test_cli import clean_env


def migrated_by_six_at_once(url: str, cwd: Path) -> None:
    """Six `advocate migrate` started together on `url`: all succeed, the schema at head."""
    env = clean_env(DATABASE_URL=url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "migrate"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, outputs
    engine = create_engine(url)
    try:
        assert migrate.pending(engine) is False
    finally:
        engine.dispose()


def test_processes_migrating_a_new_sqlite_database_at_once_all_succeed(tmp_path: Path) -> None:
    migrated_by_six_at_once(f"sqlite:///{tmp_path / 'advocate.db'}", tmp_path)


@pytest.mark.parametrize("backend", ["postgres"])
def test_six_replicas_migrating_a_new_postgresql_database_at_once_migrate_it_once(
    tmp_path: Path, backend: str
) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    name = postgres_database("migrate_race")  # of this run and worker alone
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        migrated_by_six_at_once(url, tmp_path)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
