"""Processes started together on a new SQLite file each migrate it first (advocate run,
worker, scheduler do): one creates the schema, the others find it done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from bot.store import migrate
from tests.e2e.test_cli import clean_env


def test_processes_migrating_a_new_sqlite_database_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'advocate.db'}"
    env = clean_env(DATABASE_URL=url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "migrate"],
            env=env,
            cwd=tmp_path,
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
