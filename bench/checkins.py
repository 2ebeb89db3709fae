"""3. The weekly check-in fan-out for 5,000 people, and the pace the outbox sends it at.

`queue_checkins` is timed at an instant when all 5,000 are due (a Monday evening UTC:
09:30 has passed in every one of their timezones, within the 24-hour grace): first when
nobody is queued yet, then again when everyone already is; the outbox already holds the
check-ins of earlier weeks (a year of them in the full run). Then one scheduler tick's
batch (`OutboxSender.deliver_due`, at most `BATCH` messages) is sent to the fake Slack,
first to people the app has never sent a DM (posted to their user id: Slack opens the DM
and answers with its channel, which is kept), then to people whose DM channel is known.

What a check-in may add is there to be worked out: a third of the people set a buy-in
goal last week, half had commitments kept for them in the last weeks, a year of
appreciations says whom they thanked since, a quarter have what a colleague told them they
need to follow up, and a third were nudged to thank someone last week.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, text, update

from bench.common import BOT_TOKEN, TEAM, Databases, time_calls, timing_summary
from bench.dataset import AppreciationSeeder, Crowd, bulk_insert, insert_people, refresh_statistics
from bench.fakeslack import FakeSlackProcess, giver_ids
from bot import heap
from bot.clock import fixed_clock
from bot.config import Settings
from bot.domain import Workspace
from bot.jobs.checkins import queue_checkins
from bot.jobs.scheduler import INTERVAL_SECONDS
from bot.runtime import Runtime
from bot.services.schedule import shift_week, week_of
from bot.services.settings import for_workspace
from bot.slack.outbox import BATCH, OutboxSender
from bot.store import migrate
from bot.store.models import Ask, BuyInGoal, CheckinNudge, Listen, OutboxMessage, Person

PEOPLE = 5_000
TARGET_SECONDS = 1.0
# Monday 23:00 UTC: Tokyo's 09:30 was at 00:30 UTC, Los Angeles' at 16:30 UTC.
INSTANT = datetime(2026, 3, 23, 23, 0, tzinfo=UTC)
THIS_WEEK = week_of(INSTANT, ZoneInfo("UTC"))
WORKSPACE = Workspace(TEAM)
APPRECIATIONS = 50_000  # ten a person a year, over the last year
# Slack's published limit (api.slack.com/apis/rate-limits): chat.postMessage "generally
# allows posting one message per second per channel, while also maintaining a
# workspace-wide limit" (whose figure is not published). Each DM is a channel of its own.


def setup(url: str) -> Runtime:
    settings = Settings(slack_bot_token=BOT_TOKEN, database_url=url)
    runtime = Runtime.create(settings, clock=fixed_clock(INSTANT))
    migrate.upgrade(runtime.db.engine)
    people = giver_ids(PEOPLE)
    insert_people(runtime.db.engine, people, INSTANT)
    # A third set a buy-in goal last week: their check-in asks how it went.
    last_week = shift_week(THIS_WEEK, -1)
    rng = random.Random(3)
    goals = [
        {
            "team_id": TEAM,
            "enterprise_id": None,
            "user_id": uid,
            "week": last_week,
            "target_user_id": rng.choice(people),
            "outcome": None,
            "created_at": INSTANT,
            "updated_at": INSTANT,
        }
        for uid in people
        if rng.random() < 1 / 3
    ]
    with runtime.db.engine.begin() as connection:
        bulk_insert(connection, BuyInGoal, goals)
    add_what_checkins_bring_up(runtime, people, rng)
    return runtime


def add_what_checkins_bring_up(runtime: Runtime, people: list[str], rng: random.Random) -> None:
    """Kept commitments, thanks, answers to /listen and last week's nudges."""
    crowd = Crowd(people, Crowd.of(len(people)).cumulative)
    AppreciationSeeder.for_engine(runtime.db.engine).add(
        APPRECIATIONS, crowd, crowd, start=INSTANT - timedelta(days=365), end=INSTANT
    )
    asks, listens, nudges = [], [], []
    for uid in people:
        others = [p for p in crowd.pick(rng, 4) if p != uid]
        if rng.random() < 0.5:
            for helper in others[: rng.randint(1, 3)]:
                done = INSTANT - timedelta(days=rng.uniform(1, 80))
                asks.append(
                    {
                        "team_id": TEAM,
                        "enterprise_id": None,
                        "asker_id": uid,
                        "helper_id": helper,
                        "request": "the renewal quote",
                        "channel_id": "C111",
                        "thread_ts": None,
                        "status_ts": None,
                        "from_message": False,
                        "due_on": None,
                        "committed_on": None,
                        "timezone": "UTC",
                        "status": "done",
                        "decline_reason": None,
                        "source_key": f"bench-ask:{len(asks)}",
                        "created_at": done - timedelta(days=3),
                        "updated_at": done,
                        "committed_at": None,
                        "done_at": done,
                        "thanked_at": None,
                    }
                )
        if rng.random() < 0.25 and others:
            answered = INSTANT - timedelta(days=rng.uniform(1, 30))
            listens.append(
                {
                    "team_id": TEAM,
                    "enterprise_id": None,
                    "asker_id": uid,
                    "colleague_id": others[-1],
                    "topic": None,
                    "status": "answered",
                    "open_key": None,
                    "need": "a week's notice before each launch",
                    "obstacle": None,
                    "preference": None,
                    "answer_key": None,
                    "followup": "open",
                    "not_yet": 0,
                    "followup_week": None,
                    "source_key": f"bench-listen:{len(listens)}",
                    "created_at": answered - timedelta(days=1),
                    "answered_at": answered,
                    "declined_at": None,
                    "will_act_at": None,
                    "acted_at": None,
                }
            )
        if rng.random() < 1 / 3 and others:
            nudges.append(
                {
                    "team_id": TEAM,
                    "enterprise_id": None,
                    "user_id": uid,
                    "week": shift_week(THIS_WEEK, -1),
                    "target_user_id": others[0],
                    "created_at": INSTANT - timedelta(weeks=1),
                }
            )
    with runtime.db.engine.begin() as connection:
        bulk_insert(connection, Ask, asks)
        bulk_insert(connection, Listen, listens)
        bulk_insert(connection, CheckinNudge, nudges)
    # What the scheduler's tick does for SQLite before it queues check-ins, and autovacuum
    # for PostgreSQL.
    refresh_statistics(runtime.db.engine, sqlite=True)


def add_sent_history(runtime: Runtime, weeks: int) -> None:
    """Check-ins sent in earlier weeks: the outbox keeps what it sent."""
    people = giver_ids(PEOPLE)
    with runtime.db.engine.begin() as connection:
        for back in range(1, weeks + 1):
            week = shift_week(THIS_WEEK, -back)
            rows = [
                {
                    "team_id": TEAM,
                    "enterprise_id": None,
                    "dedupe_key": f"checkin:{week}:{uid}",
                    "kind": "dm",
                    "channel_id": uid,
                    "user_id": uid,
                    "response_url": None,
                    "payload": {"text": "Your weekly check-in"},
                    "appreciation_id": None,
                    "status": "sent",
                    "attempts": 1,
                    "next_attempt_at": INSTANT - timedelta(weeks=back),
                    "claimed_until": None,
                    "sent_at": INSTANT - timedelta(weeks=back),
                    "sent_channel_id": f"D{uid}",
                    "sent_ts": "1700000000.000100",
                    "last_error": None,
                    "created_at": INSTANT - timedelta(weeks=back),
                }
                for uid in people
            ]
            bulk_insert(connection, OutboxMessage, rows)
    settle(runtime)


def settle(runtime: Runtime) -> None:
    """Statistics and dead rows as autovacuum would leave them (PostgreSQL), so that rows
    deleted between runs do not slow the next one down."""
    if runtime.db.engine.dialect.name == "postgresql":
        engine = runtime.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM ANALYZE outbox"))


def unqueue_this_week(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            delete(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"checkin:{THIS_WEEK}:%"))
        )
        session.execute(delete(CheckinNudge).where(CheckinNudge.week == THIS_WEEK))
    settle(runtime)


def measure_queueing(runtime: Runtime, repeats: int) -> dict[str, Any]:
    config = for_workspace(runtime.db, WORKSPACE, runtime.settings)
    # As the scheduler does once it has started (`advocate scheduler`, `advocate run`).
    heap.settled()
    first: list[float] = []
    for _ in range(repeats):
        unqueue_this_week(runtime)
        began = time.perf_counter()
        queued = queue_checkins(runtime, WORKSPACE, config, INSTANT)
        first.append(time.perf_counter() - began)
        assert queued == PEOPLE, f"expected {PEOPLE} check-ins due, {queued} were queued"

    def again() -> None:
        queued = queue_checkins(runtime, WORKSPACE, config, INSTANT)
        assert queued == 0, f"{queued} check-ins were queued twice"

    settle(runtime)  # autovacuum notices 5,000 new rows
    return {"first": timing_summary(first), "again": timing_summary(time_calls(again, repeats))}


def send_one_batch(sender: OutboxSender) -> dict[str, Any]:
    began = time.perf_counter()
    deliveries = sender.deliver_due()
    return {
        "seconds": time.perf_counter() - began,
        "sent": sum(d.status == "sent" for d in deliveries),
        "ids": [d.id for d in deliveries],
    }


def measure_sending(runtime: Runtime, fake_url: str) -> dict[str, Any]:
    """One tick's batch to the fake Slack: first DMs, then DMs whose channel is known."""
    settings = replace(runtime.settings, slack_api_url=fake_url)
    sender = Runtime.create(settings, db=runtime.db, clock=fixed_clock(INSTANT)).sender
    with runtime.db.transaction() as session:
        session.execute(update(Person).values(dm_channel_id=None))
    opening = send_one_batch(sender)
    # The same people again, now that their DM channels are known.
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(opening.pop("ids")))
            .values(status="pending", attempts=0, claimed_until=None, sent_at=None)
        )
    known = send_one_batch(sender)
    known.pop("ids")
    return {
        "batch": BATCH,
        "interval_seconds": INTERVAL_SECONDS,
        "opening": opening,
        "known": known,
    }


def pace(sending: dict[str, Any]) -> dict[str, Any]:
    """How long 5,000 check-ins take to leave, by the outbox's own limit and by Slack's."""
    per_minute = BATCH * 60 / INTERVAL_SECONDS
    ticks = math.ceil(PEOPLE / BATCH)
    return {
        "outbox_per_minute": per_minute,
        "outbox_minutes_for_all": ticks * INTERVAL_SECONDS / 60,
        "local_ms_per_message_opening": sending["opening"]["seconds"] * 1000 / BATCH,
        "local_ms_per_message_known": sending["known"]["seconds"] * 1000 / BATCH,
    }


def run(
    databases: Databases,
    backends: list[str],
    repeats: int,
    history_weeks: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "people": PEOPLE,
        "instant": INSTANT.isoformat(),
        "target_seconds": TARGET_SECONDS,
        "outbox_history_weeks": history_weeks,
        "backends": {},
    }
    workdir: Path = databases.workdir
    with FakeSlackProcess(0, workdir / "fake-slack-checkins.log") as fake:
        for backend in backends:
            runtime = setup(databases.fresh(backend, "checkins"))
            try:
                add_sent_history(runtime, history_weeks)
                queueing = measure_queueing(runtime, repeats)
                log(
                    f"  {backend}: queue {PEOPLE:,} check-ins "
                    f"{queueing['first']['median_ms']:.0f} ms, "
                    f"again {queueing['again']['median_ms']:.0f} ms"
                )
                sending = measure_sending(runtime, fake.url)
                log(
                    f"  {backend}: one tick's batch of {BATCH}: "
                    f"{sending['opening']['seconds']:.2f} s opening DMs, "
                    f"{sending['known']['seconds']:.2f} s with DMs known"
                )
                results["backends"][backend] = {
                    "queueing": queueing,
                    "sending": sending,
                    "pace": pace(sending),
                }
            finally:
                runtime.db.dispose()
    return results
