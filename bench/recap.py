"""6. The year-end recaps of a whole workspace: 5,000 people, a year of history.

`recap.build_many` is timed as the check-in fan-out calls it: every person of the workspace
at once, over a year holding 1,000,000 appreciations (100,000 in a quick run), 20,000
kept commitments and 5,000 buy-in goals won; the recap tallies are counted from that
history once it is seeded, untimed. The floor, measured in the same run on the
same database, is one query that only counts the year's appreciation per pair of people:
the least any recap must read. Target: under 2 s on PostgreSQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.common import Databases, time_calls, timing_summary
from bench.dataset import (
    PEOPLE,
    TEAM,
    AppreciationSeeder,
    Crowd,
    bulk_insert,
    chunks,
    insert_people,
    refresh_statistics,
)
from bot.domain import Workspace
from bot.services import recap
from bot.store import migrate, queries
from bot.store.db import Database
from bot.store.models import AppreciationRecipient, Ask, BuyInGoal

WORKSPACE = Workspace(TEAM)
YEAR = 2026
START = datetime(YEAR, 1, 1, tzinfo=UTC)
END = datetime(YEAR, 12, 1, tzinfo=UTC)
TARGET_MS = 2000
ASKS = 20_000
GOALS = 5_000


def run(
    databases: Databases,
    backends: list[str],
    size: int,
    repeats: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "people": PEOPLE,
        "appreciations": size,
        "asks_done": ASKS,
        "goals_won": GOALS,
        "target_ms": TARGET_MS,
        "backends": {},
    }
    for backend in backends:
        db = Database(databases.fresh(backend, "recap"))
        try:
            results["backends"][backend] = measure(db, size, repeats, log, backend)
        finally:
            db.dispose()
    return results


def measure(
    db: Database, size: int, repeats: int, log: Callable[[str], None], backend: str
) -> dict[str, Any]:
    migrate.upgrade(db.engine)
    crowd = Crowd.of(PEOPLE)
    began = time.perf_counter()
    insert_people(db.engine, crowd.ids, END, deleted=lambda n: n % 50 == 49)
    AppreciationSeeder.for_engine(db.engine).add(size, crowd, crowd, start=START, end=END)
    seed_asks_and_goals(db, crowd)
    # The history is inserted in bulk, not recorded: its tallies are counted as migration
    # 0018 counts an existing history.
    with db.transaction() as session:
        queries.recount_recap_tallies(session, WORKSPACE, None)
    refresh_statistics(db.engine, sqlite=backend == "sqlite")
    log(f"  {backend}: seeded {size:,} appreciations in {time.perf_counter() - began:.0f} s")

    def floor() -> object:
        with db.engine.connect() as connection:
            if backend == "postgres":  # as recap.build_many groups: in memory
                connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
            return connection.execute(
                select(AppreciationRecipient.giver_id, AppreciationRecipient.user_id, func.count())
                .where(
                    AppreciationRecipient.team_id == TEAM,
                    AppreciationRecipient.created_at >= START,
                    AppreciationRecipient.created_at < END + timedelta(days=31),
                )
                .group_by(AppreciationRecipient.giver_id, AppreciationRecipient.user_id)
            ).all()

    everyone = crowd.ids
    built = recap.build_many(db, WORKSPACE, YEAR, everyone, "UTC")
    floor_ms = timing_summary(time_calls(floor, repeats))
    recap_ms = timing_summary(
        time_calls(lambda: recap.build_many(db, WORKSPACE, YEAR, everyone, "UTC"), repeats)
    )
    with_recap = sum(1 for r in built.values() if not r.empty)
    ratio = recap_ms["median_ms"] / floor_ms["median_ms"]
    log(
        f"  {backend}: recaps of {len(everyone):,} people {recap_ms['median_ms']:.0f} ms "
        f"(floor {floor_ms['median_ms']:.0f} ms, {ratio:.1f}x); {with_recap:,} have one"
    )
    return {
        "recaps": recap_ms,
        "floor": floor_ms,
        "ratio_to_floor": ratio,
        "people_with_a_recap": with_recap,
        "within_target": recap_ms["median_ms"] <= TARGET_MS,
    }


def seed_asks_and_goals(db: Database, crowd: Crowd) -> None:
    rng = random.Random(11)
    span = (END - START).total_seconds()
    asks = []
    for n in range(ASKS):
        asker, helper = rng.sample(crowd.ids, 2)
        at = START + timedelta(seconds=rng.random() * span)
        asks.append(
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "asker_id": asker,
                "helper_id": helper,
                "request": "the numbers",
                "channel_id": "C1",
                "thread_ts": None,
                "status_ts": None,
                "from_message": False,
                "due_on": (at + timedelta(days=3)).date(),
                "committed_on": None,
                "timezone": "UTC",
                "status": "done",
                "decline_reason": None,
                "source_key": f"bench-ask-{n}",
                "created_at": at,
                "updated_at": at,
                "committed_at": None,
                "done_at": at + timedelta(days=rng.choice((1, 2, 5))),
                "thanked_at": None,
            }
        )
    goals = []
    seen: set[tuple[str, str]] = set()
    while len(goals) < GOALS:
        user, target = rng.sample(crowd.ids, 2)
        week = f"{YEAR}-W{rng.randint(1, 48):02d}"
        if (user, week) in seen:
            continue
        seen.add((user, week))
        at = START + timedelta(weeks=int(week[-2:]) - 1)
        goals.append(
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "user_id": user,
                "week": week,
                "target_user_id": target,
                "outcome": "won",
                "created_at": at,
                "updated_at": at,
            }
        )
    with db.engine.begin() as connection:
        for chunk in chunks(asks, 5_000):
            bulk_insert(connection, Ask, chunk)
        for chunk in chunks(goals, 5_000):
            bulk_insert(connection, BuyInGoal, chunk)
