"""7. The retention after a year: table sizes before and after a week of scheduler ticks.

A workspace (5,000 people and 1,000 appreciations a day in the full run, 500 and 100 in a
quick one) has used the app for a year ending at `END` when the retention
(`bot/services/retention.py`) first runs: a check-in DM per person per week, last
December's year-end recaps, a digest a week, appreciation every day (each with its channel
post and a DM per recipient), the givers' daily counts, a check-in nudge per person per
week, asks (most done, a few still open) with their posts and reminders, and OAuth states
long expired. Every message was sent (a few failed) and still has its body.

Then `retention.prune` is called as the scheduler calls it, every five minutes of simulated
time (`PRUNE_EVERY`) for a week from `END` (a day in a quick run), each call timed: the
first calls work off the year's backlog, BATCH messages at a time, the others what crosses
the 30-day line as time goes on. The workspace goes on meanwhile: each day's rows are
written at the day's first tick, and the database gets the upkeep it would get between
ticks (`Upkeep`), neither of them timed. The floor is what must stay after the week,
counted by queries of its own rather than by the retention's code: messages younger than
30 days, older recap and digest keys younger than 430 days, older keys of asks still open,
the last week's daily counts, the last five weeks' nudges and OAuth states not yet expired.

Last, a month later, the keys erased during the week come up for review with every ask
closed by then: the rule says that none of the asks' keys stays.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    make_url,
    or_,
    select,
    text,
    update,
)

from bench.common import TEAM, Databases, percentile
from bench.dataset import (
    TIMEZONES,
    AppreciationSeeder,
    Crowd,
    bulk_insert,
    insert_people,
    refresh_statistics,
)
from bench.history import Captured, capture, explain, shorten
from bot.blocks import appreciation as appreciation_blocks
from bot.blocks.checkin import checkin_message
from bot.blocks.common import context, message, section
from bot.blocks.recap import recap_message
from bot.jobs.tick import ANALYZE_EVERY
from bot.services import retention
from bot.services.asks import CLOSED as CLOSED_ASKS
from bot.services.recap import Carried, Recap
from bot.services.schedule import week_of
from bot.store import migrate
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    CheckinNudge,
    DailyGiving,
    OutboxMessage,
    slack_oauth_states,
)

END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=365)
MESSAGE_DAYS = 30  # ADVOCATE_MESSAGE_RETENTION_DAYS' default
TICK = timedelta(seconds=retention.PRUNE_EVERY)
TICKS_A_DAY = int(timedelta(days=1) / TICK)
WEEK_OF_TICKS = 7 * TICKS_A_DAY  # 2,016
ANALYZE_TICKS = int(ANALYZE_EVERY / TICK)
AN_HOUR_OF_TICKS = int(timedelta(hours=1) / TICK)
LATER_CALLS_CAP = 1_000
# Last year's recaps went with the first check-in after ADVOCATE_RECAP_DATE (12-10).
RECAP_YEAR = 2025
RECAP_MONDAY = date(2025, 12, 15)
CHANNEL = "C111"
# Tables the retention prunes, then tables it leaves alone (for scale).
PRUNED = ("outbox", "daily_givings", "checkin_nudges", "slack_oauth_states")
UNTOUCHED = ("appreciations", "appreciation_recipients", "asks")
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Plan:
    people: int
    per_day: int  # appreciations a day, every day of the year
    ticks: int  # prune calls, TICK apart from END on


def run(
    databases: Databases, backends: list[str], plan: Plan, log: Callable[[str], None]
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "people": plan.people,
        "appreciations_a_day": plan.per_day,
        "end": END.isoformat(),
        "message_days": MESSAGE_DAYS,
        "batch": retention.BATCH,
        "tick_seconds": TICK.total_seconds(),
        "ticks": plan.ticks,
        "backends": {},
    }
    for backend in backends:
        db = Database(databases.fresh(backend, "retention"))
        try:
            results["backends"][backend] = measure(db, plan, log, backend)
        finally:
            db.dispose()
    return results


def measure(db: Database, plan: Plan, log: Callable[[str], None], backend: str) -> dict[str, Any]:
    migrate.upgrade(db.engine)
    began = time.perf_counter()
    seeder = Seeder(db, plan)
    seeded = seeder.seed()
    # What the scheduler's tick does for SQLite (ANALYZE now and then), and autovacuum for
    # PostgreSQL after a load.
    refresh_statistics(db.engine, sqlite=True)
    seed_seconds = time.perf_counter() - began
    log(
        f"  {backend}: seeded {seeded['appreciations']:,} appreciations and "
        f"{seeded['outbox']:,} messages in {seed_seconds:.0f} s"
    )
    before = sizes(db)
    calls, week = tick_for_a_week(seeder, plan.ticks)
    last_now = END + TICK * (plan.ticks - 1)
    explained = plans(db, last_now)
    after = sizes(db)
    floor = floors(db, last_now)
    compacted, compact_seconds = compact(db)
    later = a_month_later(db, last_now)
    summary = summarize(calls)
    log(
        f"  {backend}: {plan.ticks:,} prune calls, p50 {summary['all']['p50_ms']:.1f} ms, "
        f"p99 {summary['all']['p99_ms']:.0f} ms, max {summary['all']['max_ms']:.0f} ms; "
        f"backlog gone after {summary['backlog_calls']} calls; outbox "
        f"{before['tables']['outbox']['rows']:,} -> {after['tables']['outbox']['rows']:,} "
        f"rows (floor {floor['outbox']:,})"
    )
    log(
        f"  {backend}: a month later, {later['calls']['backlog_calls']} calls then p50 "
        f"{later['calls']['steady']['p50_ms']:.1f} ms; keys of closed asks left: "
        f"{later['ask_keys_left']:,} (the rule: 0)"
    )
    return {
        "seeded": seeded,
        "week": week,
        "seed_seconds": seed_seconds,
        "before": before,
        "after": after,
        "floor": floor,
        "floor_at": last_now.isoformat(),
        "compacted": compacted,
        "compact_seconds": compact_seconds,
        "calls": summary,
        "plans": explained,
        "a_month_later": later,
    }


# ---------------------------------------------------------------- the year


class Seeder:
    """A year of the workspace's rows, day by day, each day in one transaction."""

    def __init__(self, db: Database, plan: Plan) -> None:
        self.db = db
        self.plan = plan
        self.rng = random.Random(17)
        self.crowd = Crowd.of(plan.people)
        self.appreciations = AppreciationSeeder.for_engine(db.engine)
        self.next_ask = 1
        self.open_asks = 0

    def seed(self) -> dict[str, int]:
        """The year up to END; returns the rows inserted, by table."""
        insert_people(self.db.engine, self.crowd.ids, START)
        seeded: Counter[str] = Counter()
        day = START
        while day < END:
            seeded.update(self.day(day))
            day += timedelta(days=1)
        return {**seeded, "open_asks": self.open_asks}

    def day(self, start: datetime) -> Counter[str]:
        """The rows of the day from `start` on, inserted together; how many, by table."""
        apps, recipients = self.appreciations.batch(
            self.plan.per_day, self.crowd, self.crowd, start, 86_400.0
        )
        messages = self.appreciation_messages(apps, recipients)
        givings = Counter(a["giver_id"] for a in apps)
        daily = [
            {
                "team_id": TEAM,
                "enterprise_id": None,
                "giver_id": giver,
                "day": start.date(),
                "given": given,
            }
            for giver, given in givings.items()
        ]
        nudges: list[dict[str, Any]] = []
        if start.weekday() == 0:
            messages += self.checkins(start, nudges)
        if start.weekday() == 4:
            messages.append(self.digest(start))
        asks = self.asks(start, messages)
        states = self.oauth_states(start)
        messages.sort(key=lambda m: m["created_at"])
        with self.db.engine.begin() as connection:
            bulk_insert(connection, Appreciation, apps)
            bulk_insert(connection, AppreciationRecipient, recipients)
            bulk_insert(connection, DailyGiving, daily)
            bulk_insert(connection, Ask, asks)
            bulk_insert(connection, CheckinNudge, nudges)
            bulk_insert(connection, OutboxMessage, messages)
            connection.execute(insert(slack_oauth_states), states)
        return Counter(
            appreciations=len(apps),
            appreciation_recipients=len(recipients),
            daily_givings=len(daily),
            asks=len(asks),
            checkin_nudges=len(nudges),
            outbox=len(messages),
            slack_oauth_states=len(states),
        )

    def appreciation_messages(
        self, apps: list[dict[str, Any]], recipients: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """What `appreciation.record` queues: the channel post of a public appreciation and
        a DM to each recipient, with the giver's words."""
        named: dict[int, list[str]] = {}
        for r in recipients:
            named.setdefault(r["appreciation_id"], []).append(r["user_id"])
        rows = []
        for a in apps:
            shown = _Shown(a, named[a["id"]])
            at = a["created_at"]
            if not a["is_private"]:
                rows.append(
                    outbox_row(
                        f"appreciation:{a['id']}:post",
                        "channel_post",
                        CHANNEL,
                        None,
                        appreciation_blocks.channel_message(shown),
                        at,
                        appreciation_id=a["id"],
                        # Half come from the slash command, which answers its response URL.
                        response_url=RESPONSE_URL if a["id"] % 2 else None,
                    )
                )
            dm = appreciation_blocks.recipient_dm(shown)
            for uid in named[a["id"]]:
                rows.append(
                    outbox_row(
                        f"appreciation:{a['id']}:dm:{uid}",
                        "dm",
                        uid,
                        uid,
                        dm,
                        at,
                        appreciation_id=a["id"],
                        failed=self.rng.random() < 0.005,
                    )
                )
        return rows

    def checkins(self, monday: datetime, nudges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A check-in DM to everyone at 09:30 their time, the nudge it carried, and last
        year's recap with the first check-in after the recap date."""
        week = week_of(monday, UTC_ZONE)
        payload = checkin_message(week, None)
        zones = [ZoneInfo(tz) for tz in TIMEZONES]
        targets = self.crowd.pick(self.rng, len(self.crowd.ids))
        rows = []
        for n, uid in enumerate(self.crowd.ids):
            local = datetime.combine(monday.date(), datetime.min.time(), zones[n % len(zones)])
            at = max(local.replace(hour=9, minute=30).astimezone(UTC), monday)
            rows.append(outbox_row(f"checkin:{week}:{uid}", "dm", uid, uid, payload, at))
            target = targets[n] if targets[n] != uid else self.crowd.ids[(n + 1) % len(targets)]
            nudges.append(
                {
                    "team_id": TEAM,
                    "enterprise_id": None,
                    "user_id": uid,
                    "week": week,
                    "target_user_id": target,
                    "created_at": at,
                }
            )
            if monday.date() == RECAP_MONDAY:
                rows.append(
                    outbox_row(f"recap:{RECAP_YEAR}:{uid}", "dm", uid, uid, self.recap(uid), at)
                )
        return rows

    def recap(self, uid: str) -> dict[str, Any]:
        carried = [
            Carried(other, kept=self.rng.randint(0, 3), thanked=self.rng.randint(1, 9))
            for other in self.crowd.pick(self.rng, 3)
        ]
        given, received = self.rng.randint(5, 80), self.rng.randint(5, 80)
        return recap_message(Recap(uid, RECAP_YEAR, given, received, 2, carried))

    def digest(self, friday: datetime) -> dict[str, Any]:
        week = week_of(friday, UTC_ZONE)
        thanked = ", ".join(f"<@{uid}>" for uid in self.crowd.pick(self.rng, 12))
        blocks = [
            section(f"*Appreciation this week ({week})*"),
            section(f":sparkles: Thanked most: {thanked}"),
            section(f":seedling: First time thanked: {thanked}"),
            context(f"{self.plan.per_day * 5:,} appreciations from {self.plan.people:,} people"),
        ]
        at = friday.replace(hour=16)
        return outbox_row(
            f"digest:{week}:{CHANNEL}", "channel_post", CHANNEL, None, message(week, blocks), at
        )

    def asks(self, day: datetime, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A few asks a day, with their post, the questions in its thread and the helper's
        reminder on the due day; most are done, some of the last two weeks' still open and
        one in a hundred older ones forgotten open."""
        rows = []
        for _ in range(max(1, self.plan.people // 250)):
            ask_id = self.next_ask
            self.next_ask += 1
            asker, helper = self.rng.sample(self.crowd.ids, 2)
            at = day + timedelta(seconds=self.rng.random() * 86_400)
            due = at + timedelta(days=self.rng.choice((2, 3, 7)))
            recent = END - at < timedelta(days=14)
            still_open = self.rng.random() < (0.5 if recent else 0.01)
            status = "asked" if still_open else self.rng.choice(("done",) * 9 + ("declined",))
            self.open_asks += still_open
            rows.append(
                {
                    "id": ask_id,
                    "team_id": TEAM,
                    "enterprise_id": None,
                    "asker_id": asker,
                    "helper_id": helper,
                    "request": "the renewal quote for the customer",
                    "channel_id": CHANNEL,
                    "thread_ts": "1700000000.000100",
                    "status_ts": "1700000000.000100",
                    "from_message": False,
                    "due_on": due.date(),
                    "committed_on": None,
                    "timezone": "UTC",
                    "status": status,
                    "decline_reason": None,
                    "source_key": f"bench-ask:{ask_id}",
                    "created_at": at,
                    "updated_at": at,
                    "committed_at": None,
                    "done_at": None if still_open else at + timedelta(days=1),
                    "thanked_at": None,
                }
            )
            said = {"text": f"<@{asker}> asked <@{helper}> for the renewal quote, due {due:%b %d}"}
            messages.append(
                outbox_row(f"ask:{ask_id}:post", "channel_post", CHANNEL, None, said, at)
            )
            messages.append(
                outbox_row(
                    f"ask:{ask_id}:questions",
                    "channel_post",
                    CHANNEL,
                    None,
                    {**said, "thread_ts": "1700000000.000100"},
                    at + timedelta(seconds=2),
                )
            )
            reminder = due.replace(hour=9, minute=0)
            if still_open and reminder < END:
                messages.append(
                    outbox_row(
                        f"ask:{ask_id}:due-{due.date().isoformat()}",
                        "dm",
                        helper,
                        helper,
                        said,
                        reminder,
                    )
                )
        return rows

    def oauth_states(self, day: datetime) -> list[dict[str, Any]]:
        """Installs started (slack-sdk stores naive UTC expiry times, ten minutes on)."""
        rows = []
        for _ in range(max(1, self.plan.people // 1_000)):
            at = day + timedelta(seconds=self.rng.random() * 86_400)
            expiry = (at + timedelta(minutes=10)).replace(tzinfo=None)
            rows.append({"state": f"{self.rng.getrandbits(128):032x}", "expire_at": expiry})
        return rows


RESPONSE_URL = "https://hooks.slack.com/commands/T111/1234567890123/AbCdEfGhIjKlMnOpQrStUvWx"


@dataclass
class _Shown:
    """What the appreciation renderers read of an appreciation."""

    row: dict[str, Any]
    recipient_ids: list[str]

    def __getattr__(self, name: str) -> Any:
        if name == "message_permalink":
            return None
        return self.row[name]


def outbox_row(
    key: str,
    kind: str,
    channel_id: str,
    user_id: str | None,
    payload: dict[str, Any],
    at: datetime,
    *,
    appreciation_id: int | None = None,
    response_url: str | None = None,
    failed: bool = False,
) -> dict[str, Any]:
    """A message as the sender leaves it: sent a second later, or failed for good."""
    sent = at + timedelta(seconds=1)
    return {
        "team_id": TEAM,
        "enterprise_id": None,
        "dedupe_key": key,
        "kind": kind,
        "channel_id": channel_id,
        "user_id": user_id,
        "response_url": response_url,
        "payload": payload,
        "appreciation_id": appreciation_id,
        "status": "failed" if failed else "sent",
        "attempts": 5 if failed else 1,
        "next_attempt_at": at,
        "claimed_until": None,
        "sent_at": None if failed else sent,
        "sent_channel_id": None if failed else f"D{channel_id[1:]}",
        "sent_ts": None if failed else f"{sent.timestamp():.6f}",
        "last_error": "channel_not_found" if failed else None,
        "created_at": at,
        "erased_at": None,
    }


# ---------------------------------------------------------------- the week


def tick_for_a_week(seeder: Seeder, ticks: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`retention.prune` every TICK of simulated time from END, each call timed. The
    workspace goes on meanwhile: each day's rows are written at the day's first tick, and
    the database is looked after between ticks (`Upkeep`), neither of them timed.
    Returns the calls, and the rows the week added by table with what the upkeep did."""
    calls = []
    added: Counter[str] = Counter()
    upkeep = Upkeep(seeder.db)
    for n in range(ticks):
        now = END + TICK * n
        written: Counter[str] = Counter()
        if n % TICKS_A_DAY == 0:
            written = seeder.day(now)
            added.update(written)
        began = time.perf_counter()
        done = retention.prune(seeder.db, now, MESSAGE_DAYS)
        calls.append({"seconds": time.perf_counter() - began, **done})
        upkeep.between_ticks(n, done, written)
    return calls, {"added": dict(added), "upkeep": upkeep.report()}


# What each count `retention.prune` returns leaves behind as dead rows, by table.
CHANGED_BY = {
    "messages erased": "outbox",
    "messages deleted": "outbox",
    "daily counts deleted": "daily_givings",
    "nudges deleted": "checkin_nudges",
    "oauth states deleted": "slack_oauth_states",
}


class Upkeep:
    """What keeps a database's statistics and free space up to date between ticks.

    SQLite: the scheduler's own ANALYZE every six hours (`jobs/tick.py`). PostgreSQL:
    autovacuum, done here on simulated time, since the week of ticks takes minutes of real
    time (and the server measured may have autovacuum off): VACUUM ANALYZE of a pruned
    table once the rows deleted or rewritten since its last pass reach autovacuum's
    threshold (50 + 20% of its rows, read from the server's settings), or the rows inserted
    reach the insert threshold (1,000 + 20%).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.postgres = db.engine.dialect.name == "postgresql"
        self.dead: Counter[str] = Counter()
        self.inserted: Counter[str] = Counter()
        self.passes: Counter[str] = Counter()
        self.seconds = 0.0
        self.settings: dict[str, float] = {}
        self.rows: dict[str, float] = {}
        if self.postgres:
            with db.engine.connect() as connection:
                self.settings = {
                    name: float(value)
                    for name, value in connection.execute(
                        text("SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum_%'")
                    )
                    if name.endswith(("_threshold", "_scale_factor"))
                }
            self._count_rows(PRUNED)

    def between_ticks(self, tick: int, done: dict[str, int], written: Counter[str]) -> None:
        began = time.perf_counter()
        if not self.postgres:
            if tick % ANALYZE_TICKS == ANALYZE_TICKS - 1:
                with self.db.engine.begin() as connection:
                    connection.exec_driver_sql("ANALYZE")
                self.passes["ANALYZE"] += 1
            self.seconds += time.perf_counter() - began
            return
        for what, table in CHANGED_BY.items():
            self.dead[table] += done.get(what, 0)
        for table in PRUNED:
            self.inserted[table] += written.get(table, 0)
        due = [table for table in PRUNED if self._due(table)]
        if due:
            engine = self.db.engine.execution_options(isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                for table in due:
                    connection.execute(text(f"VACUUM ANALYZE {table}"))
                    self.passes[table] += 1
                    self.dead[table] = self.inserted[table] = 0
            self._count_rows(due)
        self.seconds += time.perf_counter() - began

    def _due(self, table: str) -> bool:
        rows, setting = self.rows[table], self.settings
        return (
            self.dead[table]
            > setting["autovacuum_vacuum_threshold"]
            + setting["autovacuum_vacuum_scale_factor"] * rows
        ) or (
            self.inserted[table]
            > setting["autovacuum_vacuum_insert_threshold"]
            + setting["autovacuum_vacuum_insert_scale_factor"] * rows
        )

    def _count_rows(self, tables: Any) -> None:
        with self.db.engine.connect() as connection:
            for table in tables:
                rows = connection.scalar(
                    text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
                )
                self.rows[table] = max(float(rows or 0), 0.0)

    def report(self) -> dict[str, Any]:
        return {"passes": dict(self.passes), "seconds": self.seconds}


def a_month_later(db: Database, last_now: datetime) -> dict[str, Any]:
    """A month after the week, the keys erased during it are reviewed (erased over 30 days
    ago). By then every ask is closed, so no ask key deduplicates any more: the rule says
    they all go. Calls every TICK from then on (the month's messages crossing the 30-day
    line at once, as a first backlog), until one finds fewer than BATCH messages, then
    an hour more; then the keys of asks left among the older messages are counted."""
    later = last_now + timedelta(days=MESSAGE_DAYS) + TICK
    with db.transaction() as session:
        session.execute(
            update(Ask)
            .where(Ask.status.not_in(sorted(CLOSED_ASKS)))
            .values(status="done", done_at=last_now, updated_at=last_now)
        )
    calls: list[dict[str, Any]] = []
    now = later
    while len(calls) < LATER_CALLS_CAP:
        began = time.perf_counter()
        done = retention.prune(db, now, MESSAGE_DAYS)
        calls.append({"seconds": time.perf_counter() - began, **done})
        now += TICK
        if summarize(calls)["backlog_calls"] + AN_HOUR_OF_TICKS <= len(calls):
            break
    cutoff = now - TICK - timedelta(days=MESSAGE_DAYS)
    key = OutboxMessage.dedupe_key
    with db.engine.connect() as connection:
        ask_keys = connection.scalar(
            select(func.count()).where(key.like("ask:%"), OutboxMessage.created_at < cutoff)
        )
        erased = connection.scalar(select(func.count()).where(OutboxMessage.erased_at.is_not(None)))
    summary = summarize(calls)
    summary.pop("per_call_ms")
    return {
        "at": later.isoformat(),
        "calls": summary,
        "ask_keys_left": int(ask_keys or 0),
        "erased_keys_left": int(erased or 0),
    }


def plans(db: Database, now: datetime) -> list[dict[str, str]]:
    """The plan of each statement of one more call at `now`, where the week ended: what
    a call costs once the backlog is gone."""
    with capture(db.engine) as seen:
        retention.prune(db, now, MESSAGE_DAYS)
    unique: dict[str, Captured] = {}
    for captured in seen:
        unique.setdefault(shorten(captured.statement), captured)
    return [{"sql": sql, "plan": explain(db.engine, c)} for sql, c in unique.items()]


def summarize(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-call times, overall and split where the year's backlog is gone: the first call
    that found fewer than BATCH messages to erase or delete."""
    handled = [c["messages erased"] + c["messages deleted"] for c in calls]
    backlog = next((n + 1 for n, h in enumerate(handled) if h < retention.BATCH), len(calls))
    kinds = [k for k in calls[0] if k != "seconds"]
    return {
        "all": _times(calls),
        "first": {"ms": calls[0]["seconds"] * 1000, **{k: calls[0][k] for k in kinds}},
        "backlog_calls": backlog,
        "backlog": _times(calls[:backlog]),
        "steady": _times(calls[backlog:]),
        "done": {k: sum(c[k] for c in calls) for k in kinds},
        "per_call_ms": [round(c["seconds"] * 1000, 2) for c in calls],
    }


def _times(calls: list[dict[str, Any]]) -> dict[str, float]:
    seconds = [c["seconds"] for c in calls]
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "total_s": sum(seconds),
        "p50_ms": statistics.median(seconds) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
    }


# ---------------------------------------------------------------- sizes and the floor


def sizes(db: Database) -> dict[str, Any]:
    """Rows and bytes per table (its indexes included). SQLite: the pages each table's
    b-trees use (`dbstat`), and the file with its free pages; PostgreSQL:
    `pg_total_relation_size`."""
    tables: dict[str, dict[str, int]] = {}
    with db.engine.connect() as connection:
        for table in (*PRUNED, *UNTOUCHED):
            rows = connection.scalar(text(f"SELECT count(*) FROM {table}"))
            tables[table] = {"rows": int(rows or 0)}
        if db.engine.dialect.name == "postgresql":
            for table in tables:
                size = connection.scalar(text(f"SELECT pg_total_relation_size('{table}')"))
                tables[table]["bytes"] = int(size or 0)
            total = connection.scalar(text("SELECT pg_database_size(current_database())"))
            return {"tables": tables, "database_bytes": int(total or 0)}
    db.reclaim_erased()  # the log copied into the file, so that the file is all of it
    with db.engine.connect() as connection:
        owner = dict(connection.execute(text("SELECT name, tbl_name FROM sqlite_master")).all())
        used: Counter[str] = Counter()
        for name, size in connection.execute(
            text("SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE")
        ):
            used[owner.get(name, name)] += int(size)
        page = int(connection.scalar(text("PRAGMA page_size")) or 0)
        free = int(connection.scalar(text("PRAGMA freelist_count")) or 0)
    for table in tables:
        tables[table]["bytes"] = used[table]
    path = Path(make_url(db.url).database or "")
    return {"tables": tables, "database_bytes": path.stat().st_size, "free_bytes": free * page}


def floors(db: Database, now: datetime) -> dict[str, int]:
    """The rows of each pruned table that must stay at `now`, counted by queries of their
    own: what the retention rule says, not how `retention.prune` does it."""
    cutoff = now - timedelta(days=MESSAGE_DAYS)
    year_old = now - retention.A_YEAR_AND_A_BIT
    key = OutboxMessage.dedupe_key
    open_ask = exists().where(
        Ask.team_id == OutboxMessage.team_id,
        Ask.status.not_in(sorted(CLOSED_ASKS)),
        key.like(literal("ask:") + cast(Ask.id, String) + literal(":%")),
    )
    outbox = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            or_(
                OutboxMessage.created_at >= cutoff,
                OutboxMessage.status.not_in(("sent", "failed")),
                and_(
                    or_(key.like("recap:%"), key.like("digest:%")),
                    OutboxMessage.created_at >= year_old,
                ),
                and_(key.like("ask:%"), open_ask),
            )
        )
    )
    with db.engine.connect() as connection:
        return {
            "outbox": int(connection.scalar(outbox) or 0),
            "daily_givings": int(
                connection.scalar(
                    select(func.count()).where(
                        DailyGiving.day >= (now - retention.DAILY_COUNTS_FOR).date()
                    )
                )
                or 0
            ),
            "checkin_nudges": int(
                connection.scalar(
                    select(func.count()).where(
                        CheckinNudge.created_at >= now - retention.NUDGES_FOR
                    )
                )
                or 0
            ),
            "slack_oauth_states": int(
                connection.scalar(
                    select(func.count()).where(
                        slack_oauth_states.c.expire_at >= now.replace(tzinfo=None)
                    )
                )
                or 0
            ),
        }


def compact(db: Database) -> tuple[dict[str, int] | None, float]:
    """PostgreSQL: the pruned tables' bytes after VACUUM FULL (deleted rows' space is
    otherwise kept for new rows, not given back). SQLite: None, since `sizes` already
    counts only the pages in use."""
    if db.engine.dialect.name != "postgresql":
        return None, 0.0
    began = time.perf_counter()
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for table in PRUNED:
            connection.execute(text(f"VACUUM FULL {table}"))
        sizes = {
            table: int(connection.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
            for table in PRUNED
        }
    return sizes, time.perf_counter() - began
