"""2. Digest and leaderboard queries as the history grows: 10k, 100k and 1M appreciations
among 5,000 people over three years.

The history grows in place (10k, then 90k more, then 900k more, each spread over the same
three years), and each service is timed at each size through its public function, the way
the app calls it. At the largest size the SQL each one sends is captured and explained:
`EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event

from bench.common import Databases, time_calls, timing_summary
from bench.dataset import END, PEOPLE, AppreciationSeeder, Crowd, insert_people, person_id
from bench.dataset import refresh_statistics as analyze
from bot.domain import Workspace
from bot.services import appreciation, digest
from bot.services.schedule import digest_window, shift_week, week_of
from bot.store import migrate
from bot.store.db import Database

WORKSPACE = Workspace("T111")
ZONE = "UTC"
TARGET_MS = 100  # at 1M on PostgreSQL
# The week before END's: a complete week near the end of the history; its digest covers
# the seven days up to its Friday 16:00 (the default schedule).
DIGEST_WEEK = shift_week(week_of(END, ZoneInfo(ZONE)), -1)
DIGEST_DAYS = digest.Window(
    DIGEST_WEEK, *digest_window(DIGEST_WEEK, "fri", "16:00", ZoneInfo(ZONE))
)
BUSIEST = person_id(0)  # the most appreciated person: the heaviest `stats`


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[Database], object]


CASES = (
    Case(f"digest.build({DIGEST_WEEK})", lambda db: digest.build(db, WORKSPACE, DIGEST_DAYS, ZONE)),
    Case("appreciation.top(month)", lambda db: appreciation.top(db, WORKSPACE, "month", END, ZONE)),
    Case("appreciation.top(all)", lambda db: appreciation.top(db, WORKSPACE, "all", END, ZONE)),
    Case(
        "appreciation.stats(busiest)",
        lambda db: appreciation.stats(db, WORKSPACE, BUSIEST, END, ZONE, viewer=BUSIEST),
    ),
    Case(
        "digest.advocates_since(month)",  # what every App Home opening asks for
        lambda db: digest.advocates_since(
            db, WORKSPACE, appreciation.period_start("month", END, ZONE) or END, 5
        ),
    ),
)


@dataclass
class Captured:
    statement: str
    parameters: Any


@contextmanager
def capture(engine: Engine) -> Iterator[list[Captured]]:
    """Every statement `engine` sends while the block runs (with its parameters)."""
    seen: list[Captured] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append(Captured(statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine, captured: Captured) -> str:
    """The plan of one captured statement, as the backend prints it."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + captured.statement, captured.parameters).all()
        connection.rollback()
    if postgres:
        return "\n".join(str(row[0]) for row in rows)
    # SQLite: (id, parent, notused, detail); indent children under their parent.
    depth: dict[int, int] = {0: 0}
    lines = []
    for node_id, parent, _, detail in rows:
        depth[node_id] = depth.get(parent, 0) + 1
        lines.append("  " * (depth[node_id] - 1) + str(detail))
    return "\n".join(lines)


def shorten(statement: str, limit: int = 600) -> str:
    """The statement on one line, long IN lists elided."""
    flat = re.sub(r"\s+", " ", statement).strip()
    flat = re.sub(r"IN \(([^()]{80,})\)", "IN (…)", flat)
    return flat if len(flat) <= limit else flat[:limit] + " …"


def explain_cases(db: Database) -> dict[str, dict[str, Any]]:
    """Per case: how many statements it sends, and the plan of each distinct one."""
    plans: dict[str, dict[str, Any]] = {}
    for case in CASES:
        with capture(db.engine) as seen:
            case.call(db)
        unique: dict[str, Captured] = {}
        for captured in seen:
            unique.setdefault(shorten(captured.statement), captured)
        plans[case.name] = {
            "statements": len(seen),
            "plans": [
                {"sql": sql, "plan": explain(db.engine, captured)}
                for sql, captured in unique.items()
            ],
        }
    return plans


@dataclass(frozen=True)
class Variant:
    """A backend as measured: SQLite as the app leaves it (no planner statistics), and
    SQLite after `ANALYZE`, to show what statistics change. SQLite stops at the cap."""

    name: str
    backend: str
    sqlite_analyze: bool = False

    @property
    def capped(self) -> bool:
        return self.backend == "sqlite"


def variants(backends: list[str]) -> list[Variant]:
    chosen = []
    for backend in backends:
        chosen.append(Variant(backend, backend))
        if backend == "sqlite":
            chosen.append(Variant("sqlite+analyze", "sqlite", sqlite_analyze=True))
    return chosen


def run(
    databases: Databases,
    backends: list[str],
    sizes: list[int],
    repeats: int,
    sqlite_cap: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "sizes": sizes,
        "people": PEOPLE,
        "digest_week": DIGEST_WEEK,
        "now": END.isoformat(),
        "target_ms": TARGET_MS,
        "sqlite_cap": sqlite_cap,
        "backends": {},
    }
    for variant in variants(backends):
        cap = sqlite_cap if variant.capped else max(sizes)
        db = Database(databases.fresh(variant.backend, f"history-{variant.name}"))
        try:
            results["backends"][variant.name] = measure_backend(
                db, variant, sizes, repeats, cap, log
            )
        finally:
            db.dispose()
    return results


def measure_backend(
    db: Database,
    variant: Variant,
    sizes: list[int],
    repeats: int,
    cap: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    migrate.upgrade(db.engine)
    crowd = Crowd.of(PEOPLE)
    insert_people(db.engine, crowd.ids, END, deleted=lambda n: n % 50 == 49)
    seeder = AppreciationSeeder.for_engine(db.engine)
    out: dict[str, Any] = {"sizes": {}, "skipped": []}
    have = 0
    largest = max((s for s in sizes if s <= cap), default=0)
    for size in sizes:
        if size > cap:
            out["skipped"].append(size)
            log(f"  {variant.name}: {size:,} skipped (--sqlite-cap {cap:,})")
            continue
        began = time.perf_counter()
        seeder.add(size - have, crowd, crowd)
        analyze(db.engine, sqlite=variant.sqlite_analyze)
        seeded = time.perf_counter() - began
        have = size
        timings = {}
        for case in CASES:
            timings[case.name] = timing_summary(time_calls(lambda c=case: c.call(db), repeats))
            median = timings[case.name]["median_ms"]
            log(f"  {variant.name} {size:>9,}: {case.name:<34} {median:8.1f} ms")
        out["sizes"][str(size)] = {"seed_seconds": seeded, "timings": timings}
        if size == largest:
            out["explained_at"] = size
            out["plans"] = explain_cases(db)
    return out
