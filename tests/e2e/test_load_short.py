"""A short version of the load test (tools/loadtest.py) for CI: a few seconds of mixed
traffic against `advocate run --http`, with zero errors and zero duplicates."""

from __future__ import annotations

import pytest

from bot.store.db import Database
from tests.conftest import postgres_database
from tools import loadtest


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_short_load_has_no_errors_and_no_duplicates(db: Database) -> None:
    options = ["--database", "sqlite"]
    if not db.url.startswith("sqlite"):
        # A database of its own, so that it never drops one a longer load test, or the same
        # test in another run or pytest-xdist worker, is using.
        options = ["--database", "postgres", "--postgres-database", postgres_database("load")]
    assert loadtest.main([*options, "--clients", "4", "--seconds", "2"]) == 0
