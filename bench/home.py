"""4. The App Home of a person who received 10,000 appreciations, and works with 500 people.

Besides the appreciations, the person asked or was asked 2,000 times by 500 colleagues
(a third of the asks kept) and heard 1,000 answers to `/listen` from them: what the Home's
"your people" ranks.

`publish_home` is timed as the `app_home_opened` listener calls it (with Slack's answer
about the person already in hand), and once more looking the person up itself; the fake
Slack makes `views.publish` local. `home_view` alone is timed on the data it renders.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench.common import BOT_TOKEN, TEAM, Databases, time_calls, timing_summary
from bench.dataset import END, PEOPLE, START, AppreciationSeeder, Crowd, bulk_insert, insert_people
from bench.dataset import refresh_statistics as analyze
from bench.fakeslack import FakeSlackProcess, giver_ids
from bot.blocks.home import HomeData, home_view
from bot.clock import fixed_clock
from bot.config import Settings
from bot.domain import PersonInfo, Workspace
from bot.listeners.home import publish_home
from bot.runtime import Runtime
from bot.services import appreciation, asks, checkins, digest, relationships
from bot.services.schedule import shift_week, week_of
from bot.services.settings import for_workspace
from bot.slack import people
from bot.store import migrate
from bot.store.models import Ask, BuyInGoal, Listen

RECEIVED = 10_000
GIVEN = 1_000
OPEN_ASKS = 15
COLLEAGUES = 500
CLOSED_ASKS = 2_000
LISTENS = 1_000
TARGET_MS = 50
WORKSPACE = Workspace(TEAM)
# A person the fake Slack knows (users.info answers for them).
SUBJECT = giver_ids(1)[0]


def seed(runtime: Runtime) -> None:
    engine = runtime.db.engine
    migrate.upgrade(engine)
    crowd = Crowd.of(PEOPLE)
    insert_people(engine, [SUBJECT, *crowd.ids], END)
    seeder = AppreciationSeeder.for_engine(engine)
    seeder.add(RECEIVED, crowd, crowd, always_to=SUBJECT)
    seeder.add(GIVEN, Crowd([SUBJECT], [1.0]), crowd)
    rng = random.Random(11)
    zone = PersonInfo(SUBJECT, tz="Europe/Paris").zone()
    this_week = week_of(END, zone)
    asks_rows = []
    for n in range(OPEN_ASKS):
        other = rng.choice(crowd.ids)
        mine = n % 2 == 0
        asks_rows.append(
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "asker_id": SUBJECT if mine else other,
                "helper_id": other if mine else SUBJECT,
                "request": f"Could you review the rollout plan, part {n}?",
                "channel_id": "C111",
                "thread_ts": f"1700000000.{n:06d}",
                "status_ts": f"1700000000.{n:06d}",
                "from_message": False,
                "timezone": "Europe/Paris",
                "status": ("asked", "discussing", "committed")[n % 3],
                "source_key": f"seed-ask:{n}",
                "created_at": END - timedelta(days=n),
                "updated_at": END - timedelta(days=n),
            }
        )
    goals = [
        {
            "team_id": TEAM,
            "enterprise_id": None,
            "user_id": SUBJECT,
            "week": shift_week(this_week, -weeks),
            "target_user_id": rng.choice(crowd.ids),
            "outcome": (None, "won", "working", "skipped")[weeks % 4],
            "created_at": END,
            "updated_at": END,
        }
        for weeks in range(8)
    ]
    with engine.begin() as connection:
        bulk_insert(connection, Ask, asks_rows)
        bulk_insert(connection, Ask, closed_asks(crowd.ids[:COLLEAGUES], rng))
        bulk_insert(connection, BuyInGoal, goals)
        bulk_insert(connection, Listen, listens(crowd.ids[:COLLEAGUES], rng))
    analyze(engine)


def closed_asks(colleagues: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """Asks with the subject spread over three years, both ways: kept, declined, cancelled."""
    rows = []
    for n in range(CLOSED_ASKS):
        other = colleagues[n % len(colleagues)]
        mine = rng.random() < 0.5
        at = START + (END - START) * rng.random()
        status = ("done", "declined", "cancelled")[n % 3]
        rows.append(
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "asker_id": SUBJECT if mine else other,
                "helper_id": other if mine else SUBJECT,
                "request": f"Could you check the figures, part {n}?",
                "channel_id": "C111",
                "from_message": False,
                "timezone": "Europe/Paris",
                "status": status,
                "source_key": f"seed-closed-ask:{n}",
                "created_at": at,
                "updated_at": at + timedelta(days=3),
                "done_at": at + timedelta(days=3) if status == "done" else None,
            }
        )
    return rows


def listens(colleagues: list[str], rng: random.Random) -> list[dict[str, Any]]:
    """The subject's `/listen`s, answered: two per colleague, at random times."""
    rows = []
    for n in range(LISTENS):
        at = START + (END - START) * rng.random()
        rows.append(
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "asker_id": SUBJECT,
                "colleague_id": colleagues[n % len(colleagues)],
                "status": "answered",
                "need": f"Earlier notice before a release, and the why behind it ({n})",
                "followup": "open",
                "not_yet": 0,
                "source_key": f"seed-listen:{n}",
                "created_at": at,
                "answered_at": at + timedelta(hours=5),
            }
        )
    return rows


def home_data(runtime: Runtime, person: PersonInfo) -> HomeData:
    """What publish_home gathers, gathered the same way, to time the rendering alone."""
    config = for_workspace(runtime.db, WORKSPACE, runtime.settings)
    zone = person.zone(config.timezone)
    now = runtime.clock()
    stats = appreciation.stats(runtime.db, WORKSPACE, SUBJECT, now, zone.key, viewer=SUBJECT)
    month_start = appreciation.period_start("month", now, config.timezone) or now
    return HomeData(
        user_id=SUBJECT,
        received=stats.received,
        given=stats.given,
        recent=stats.recent,
        open_asks=asks.open_for(runtime.db, WORKSPACE, SUBJECT),
        goals=checkins.history(runtime.db, WORKSPACE, SUBJECT),
        this_week=week_of(now, zone),
        advocates=digest.advocates_since(runtime.db, WORKSPACE, month_start, 5),
        people=relationships.your_people(runtime.db, WORKSPACE, SUBJECT, now),
        now=now,
    )


def measure(runtime: Runtime, repeats: int) -> dict[str, Any]:
    seed(runtime)
    client = runtime.clients.client_for(TEAM)
    person = people.lookup(client, SUBJECT)
    assert person is not None, "the fake Slack does not know the subject"
    data = home_data(runtime, person)
    assert data.received["all"] == RECEIVED
    assert len(data.people) == relationships.SHOWN
    timings = {
        "publish_home": time_calls(
            lambda: publish_home(runtime, client, WORKSPACE, SUBJECT, person), repeats
        ),
        "publish_home_with_lookup": time_calls(
            lambda: publish_home(runtime, client, WORKSPACE, SUBJECT), repeats
        ),
        "home_view": time_calls(lambda: home_view(data), repeats * 10),
    }
    return {name: timing_summary(times) for name, times in timings.items()}


def run(
    databases: Databases, backends: list[str], repeats: int, log: Callable[[str], None]
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "received": RECEIVED,
        "given": GIVEN,
        "colleagues": COLLEAGUES,
        "target_ms": TARGET_MS,
        "backends": {},
    }
    with FakeSlackProcess(1, databases.workdir / "fake-slack-home.log") as fake:
        for backend in backends:
            settings = Settings(
                slack_bot_token=BOT_TOKEN,
                slack_api_url=fake.url,
                database_url=databases.fresh(backend, "home"),
            )
            runtime = Runtime.create(settings, clock=fixed_clock(END))
            try:
                summary = measure(runtime, repeats)
            finally:
                runtime.db.dispose()
            results["backends"][backend] = summary
            log(
                f"  {backend}: publish_home {summary['publish_home']['median_ms']:.1f} ms, "
                f"with users.info {summary['publish_home_with_lookup']['median_ms']:.1f} ms, "
                f"home_view {summary['home_view']['median_ms']:.2f} ms"
            )
    return results
