"""A short version of the load test (tools/loadtest.py) for CI: a few seconds of mixed
traffic against `advocate run --http`, with zero errors and zero duplicates."""

from __future__ import annotations

import pytest

from bot.store.db import Database
from tools import loadtest


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_short_load_has_no_errors_and_no_duplicates(db: Database) -> None:
    kind = "sqlite" if db.url.startswith("sqlite") else "postgres"
    # A database of its own, so that it never drops one a longer load test is using.
    options = ["--database", kind, "--postgres-database", "advocate_load_ci"]
    assert loadtest.main([*options, "--clients", "4", "--seconds", "2"]) == 0
