"""SQLite's writers take turns on a lock of their own (bot/store/db.py `Writers`), across
threads and processes, instead of polling for the file's lock."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.store.db import Database

THREADS = 4
WRITES = 50


def _write_many(url: str, name: str) -> int:
    """Writes from THREADS threads with SQLite's busy timeout at 0: any write that found
    the file locked would fail at once. Returns how many failed."""
    db = Database(url)

    @event.listens_for(db.engine, "connect")
    def _no_waiting(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    failures: list[Exception] = []

    def write(thread: int) -> None:
        for _ in range(WRITES):
            try:
                with db.transaction() as session:
                    session.execute(
                        text("INSERT INTO marks (who) VALUES (:who)"), {"who": f"{name}{thread}"}
                    )
                    session.execute(text("UPDATE tally SET n = n + 1"))
            except Exception as error:
                failures.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.dispose()
    return len(failures)


def _child(url: str, out: Any) -> None:
    out.put(_write_many(url, "child"))


def test_writers_of_two_processes_take_turns_without_sqlite_waiting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'turns.db'}"
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("CREATE TABLE marks (who TEXT)"))
        session.execute(text("CREATE TABLE tally (n INTEGER)"))
        session.execute(text("INSERT INTO tally VALUES (0)"))
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child, args=(url, out))
    child.start()
    failed_here = _write_many(url, "parent")
    failed_there = out.get(timeout=120)
    child.join(timeout=30)
    assert (failed_here, failed_there) == (0, 0)
    with db.transaction() as session:
        assert session.scalar(text("SELECT n FROM tally")) == 2 * THREADS * WRITES
    db.dispose()


def test_only_a_relaxed_commit_skips_the_disk_and_the_connection_is_durable_again(
    tmp_path: Path,
) -> None:
    """`transaction(durable=False)` commits with synchronous=NORMAL; the same pooled
    connection's next transaction is back to FULL (2), as is every other."""
    db = Database(f"sqlite:///{tmp_path / 'relaxed.db'}", pool_size=1, max_overflow=0)
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE marks (who TEXT)"))
    levels = []
    for durable in (True, False, True):
        with db.transaction(durable=durable) as session:
            levels.append(session.execute(text("PRAGMA synchronous")).scalar())
            session.execute(text("INSERT INTO marks (who) VALUES ('x')"))
    assert levels == [2, 1, 2]
    with db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM marks")).scalar() == 3


def test_a_relaxed_postgresql_commit_skips_the_flush_of_that_transaction_alone(
    db: Database,
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's own setting")
    levels = []
    for durable in (True, False, True):
        with db.transaction(durable=durable) as session:
            levels.append(session.execute(text("SHOW synchronous_commit")).scalar())
    assert levels == ["on", "off", "on"]


def test_a_statement_alone_commits_as_it_runs_and_leaves_the_pool_as_it_was(
    db: Database,
) -> None:
    """`alone`: on PostgreSQL no transaction is open around the statement (no BEGIN or
    COMMIT round trips), so another connection sees the write before the block ends; the
    connection goes back to the pool in transactions again."""
    from psycopg.pq import TransactionStatus

    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE marks (who TEXT)"))
    try:
        postgres = db.engine.dialect.name == "postgresql"
        for durable in (True, False):
            with db.alone(durable=durable) as connection:
                connection.execute(text("INSERT INTO marks (who) VALUES ('x')"))
                if postgres:
                    driver = connection.connection.dbapi_connection
                    assert driver.info.transaction_status == TransactionStatus.IDLE
                    with db.engine.connect() as other:
                        assert other.execute(text("SELECT count(*) FROM marks")).scalar() == (
                            2 if not durable else 1
                        )
        with db.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM marks")).scalar() == 2
            if postgres:
                driver = session.connection().connection.dbapi_connection
                assert driver.autocommit is False
    finally:  # a table of this test's own, in a database the next test uses
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE marks"))
