"""What one statement costs on PostgreSQL, in a transaction and alone:
`python -m bench.roundtrips`.

psycopg sends BEGIN and COMMIT as round trips of their own, and a commit that does not
wait for the disk needs `SET LOCAL synchronous_commit` first, one more. This times a read
and a one-row update, each `--repeats` times on one pooled connection, the ways
`bot/store/db.py` can run them: in a transaction (`Database.begin`, relaxed or not), and
alone in autocommit (`Database.alone`), whose commit waits for the disk. Wall-clock and
client CPU microseconds per statement, medians of five rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, text

from bench.common import add_postgres_url, check_postgres_url, reset_postgres
from bot.store.db import Database

ROUNDS = 5


def ways(db: Database) -> dict[str, tuple[Callable[[], AbstractContextManager[Connection]], str]]:
    read = "SELECT n FROM roundtrips WHERE id = 1"
    write = "UPDATE roundtrips SET n = n + 1 WHERE id = 1"
    return {
        "read, in a transaction (engine.connect)": (db.engine.connect, read),
        "read, alone": (db.alone, read),
        "update, in a transaction": (db.begin, write),
        "update, in a relaxed transaction (SET LOCAL)": (lambda: db.begin(durable=False), write),
        "update, alone (its commit waits for the disk)": (db.alone, write),
    }


def per_statement(
    connect: Callable[[], AbstractContextManager[Connection]], sql: str, repeats: int
) -> tuple[float, float]:
    statement = text(sql)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        with connect() as connection:
            connection.execute(statement)
    return (
        (time.perf_counter() - wall) / repeats * 1e6,
        (time.process_time() - cpu) / repeats * 1e6,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.roundtrips", description=__doc__)
    parser.add_argument("--repeats", type=int, default=1000)
    add_postgres_url(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    check_postgres_url(args.postgres_url)
    reset_postgres(args.postgres_url)
    db = Database(args.postgres_url, pool_size=1, max_overflow=0)
    with db.begin() as connection:
        connection.execute(text("CREATE TABLE roundtrips (id integer PRIMARY KEY, n integer)"))
        connection.execute(text("INSERT INTO roundtrips VALUES (1, 0)"))
    results: dict[str, Any] = {}
    for label, (connect, sql) in ways(db).items():
        per_statement(connect, sql, 50)  # warm up
        rounds = [per_statement(connect, sql, args.repeats) for _ in range(ROUNDS)]
        results[label] = (
            statistics.median(w for w, _ in rounds),
            statistics.median(c for _, c in rounds),
        )
    db.dispose()
    print("| statement | wall µs | client CPU µs |\n|---|---|---|")
    for label, (wall, cpu) in results.items():
        print(f"| {label} | {wall:.0f} | {cpu:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
