"""8. The insights page of a whole workspace: 5,000 people in 40 teams, a year of history.

The workspace page is timed as `GET /insights` builds it (its figures read, then rendered
as HTML) for the last 4 weeks, the quarter and the year, and one team's page for the
year, over a year holding 1,000,000 appreciations (100,000 on SQLite, and in a quick
run) and 20,000 asks. The floor, measured in the same run on the same database, is one
query that counts the year's appreciation per week: the least a page of the year reads.
Target: under 500 ms on PostgreSQL at 1,000,000 (under 1 s on SQLite at 100,000).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench.common import Databases, time_calls, timing_summary
from bench.dataset import PEOPLE, TEAM, AppreciationSeeder, Crowd, insert_people, refresh_statistics
from bench.recap import seed_asks_and_goals
from bot.domain import Workspace
from bot.insights_page import respond
from bot.services import insight_tallies as insights_tallies
from bot.services import insights, teams
from bot.store import migrate
from bot.store.db import Database
from bot.store.models import AppreciationRecipient, InsightTalliedWeek

WORKSPACE = Workspace(TEAM)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)  # a Tuesday
SUNDAY_NIGHT = datetime(2026, 11, 29, 23, tzinfo=UTC)
TEAMS = 40
TARGET_MS = {"postgres": 500, "sqlite": 1000}


class Admin:
    team_id, user_id, name, is_admin = TEAM, "U0000000", "Admin", True


def run(
    databases: Databases,
    backends: list[str],
    size: int,
    sqlite_cap: int,
    repeats: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    results: dict[str, Any] = {"people": PEOPLE, "teams": TEAMS, "backends": {}}
    for backend in backends:
        count = min(size, sqlite_cap) if backend == "sqlite" else size
        db = Database(databases.fresh(backend, "insights"))
        try:
            results["backends"][backend] = measure(db, count, repeats, log, backend)
        finally:
            db.dispose()
    return results


def measure(
    db: Database, size: int, repeats: int, log: Callable[[str], None], backend: str
) -> dict[str, Any]:
    migrate.upgrade(db.engine)
    crowd = Crowd.of(PEOPLE)
    began = time.perf_counter()
    insert_people(db.engine, crowd.ids, NOW, deleted=lambda n: n % 50 == 49)
    year = insights.period("year", NOW)
    AppreciationSeeder.for_engine(db.engine).add(size, crowd, crowd, start=year.start, end=NOW)
    seed_asks_and_goals(db, crowd)
    # 40 teams of 125, a tenth of people in a second one, and 100 people in none.
    rng = random.Random(40)
    members: dict[str, list[str]] = {f"S{n:04d}": [] for n in range(TEAMS)}
    for index, user_id in enumerate(crowd.ids[: PEOPLE - 100]):
        members[f"S{index % TEAMS:04d}"].append(user_id)
        if rng.random() < 0.1:
            members[f"S{rng.randrange(TEAMS):04d}"].append(user_id)
    found = [
        teams.TeamInfo(gid, gid.lower(), f"Team {gid[1:]}", ids) for gid, ids in members.items()
    ]
    teams.replace(db, WORKSPACE, found, NOW)
    refresh_statistics(db.engine, sqlite=backend == "sqlite")
    log(f"  {backend}: seeded {size:,} appreciations in {time.perf_counter() - began:.0f} s")

    week = func.count()

    def floor() -> object:
        with db.engine.connect() as connection:
            r = AppreciationRecipient
            return connection.execute(
                select(r.user_id, week)
                .where(r.team_id == TEAM, r.created_at >= year.start, r.created_at < year.end)
                .group_by(r.user_id)
            ).all()

    def page(query: str, now: datetime = NOW) -> Callable[[], object]:
        return lambda: respond(db, Admin(), "/insights", query, now)

    floor_ms = timing_summary(time_calls(floor, repeats))
    # The first page of the year with no week worked out yet (a new install of the app on a
    # year of history, or the map's weeks after a change of teams): it works out every
    # closed week it reads, once.
    with db.transaction() as session:
        insights_tallies.invalidate(session, WORKSPACE)
    began = time.perf_counter()
    page("period=year")()
    cold_ms = (time.perf_counter() - began) * 1000
    with db.transaction() as session:
        worked_out = session.scalar(select(func.count()).select_from(InsightTalliedWeek))
    log(
        f"  {backend}: the first page of the year worked out {worked_out} weeks in {cold_ms:.0f} ms"
    )
    cases: dict[str, Callable[[], object]] = {
        "4 weeks": page("period=4w"),
        "quarter": page("period=quarter"),
        "year": page("period=year"),
        "a team, year": page("period=year&team=S0003"),
        # Late on a Sunday, the week not closed yet is a whole week of history.
        "year, Sunday 23:00": page("period=year", SUNDAY_NIGHT),
    }
    timed = {name: timing_summary(time_calls(call, repeats)) for name, call in cases.items()}
    for name, summary in timed.items():
        log(
            f"  {backend}: workspace page, {name}: {summary['median_ms']:.0f} ms "
            f"(floor {floor_ms['median_ms']:.0f} ms)"
        )
    target = TARGET_MS[backend]
    return {
        "appreciations": size,
        "asks": 20_000,
        "floor": floor_ms,
        "cold": {"ms": cold_ms, "weeks": worked_out},
        "pages": timed,
        "ratio_to_floor": {
            name: summary["median_ms"] / floor_ms["median_ms"] for name, summary in timed.items()
        },
        "target_ms": target,
        "within_target": all(summary["median_ms"] <= target for summary in timed.values()),
    }
