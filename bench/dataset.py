"""Synthetic history: people and appreciations, bulk-inserted in batches.

SQLite gets SQLAlchemy Core inserts (`insert(Appreciation)`, executemany); PostgreSQL gets
COPY, because psycopg spends minutes parsing the parameters of a million Core inserts
(about 12k rows/s here, against 60k rows/s with COPY), which would not fit a ten-minute run.

Appreciations are spread evenly over three years that end at `END`. Some people are
thanked far more than others (a mild power law), as in real workspaces; a tenth of the
appreciations are private and about a third name a company value.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, Engine, func, insert, select, text
from sqlalchemy.orm import Session

from bench.common import TEAM
from bot.domain import Workspace
from bot.store import queries
from bot.store.models import Appreciation, AppreciationRecipient, Base, Person

END = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # a Friday afternoon
START = END - timedelta(days=3 * 365)
PEOPLE = 5_000
BATCH = 5_000
VALUES = ("teamwork", "ownership", "customer-first")
TIMEZONES = ("Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "UTC")


def person_id(n: int) -> str:
    return f"U{n:07d}"


@dataclass
class Crowd:
    """Who gives and who receives, with the popular ones chosen more often."""

    ids: list[str]
    cumulative: list[float]

    @classmethod
    def of(cls, count: int, skew: float = 0.6) -> Crowd:
        ids = [person_id(n) for n in range(count)]
        total = 0.0
        cumulative = []
        for rank in range(count):
            total += 1 / (rank + 1) ** skew
            cumulative.append(total)
        return cls(ids, cumulative)

    def pick(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.ids, cum_weights=self.cumulative, k=k)


def insert_people(engine: Engine, ids: Sequence[str], now: datetime, **columns: Any) -> None:
    """One `people` row per id; `columns` override the defaults (a callable gets the index)."""
    rows = []
    for n, user_id in enumerate(ids):
        row: dict[str, Any] = {
            "team_id": TEAM,
            "enterprise_id": None,
            "user_id": user_id,
            "name": user_id.lower(),
            "tz": TIMEZONES[n % len(TIMEZONES)],
            "is_bot": False,
            "deleted": False,
            "is_admin": False,
            "is_guest": False,
            "refreshed_at": now,
            "used_app_at": now,
            "checkins_stopped": False,
        }
        for key, value in columns.items():
            row[key] = value(n) if callable(value) else value
        rows.append(row)
    with engine.begin() as connection:
        for chunk in chunks(rows, BATCH):
            bulk_insert(connection, Person, chunk)


@dataclass
class AppreciationSeeder:
    """Appends appreciations with ids it assigns itself, so recipients need no round trip."""

    engine: Engine
    rng: random.Random
    next_appreciation: int = 1
    next_recipient: int = 1

    @classmethod
    def for_engine(cls, engine: Engine, seed: int = 7) -> AppreciationSeeder:
        with engine.connect() as connection:
            last_a = connection.scalar(select(func.max(Appreciation.id))) or 0
            last_r = connection.scalar(select(func.max(AppreciationRecipient.id))) or 0
        return cls(engine, random.Random(seed), last_a + 1, last_r + 1)

    def add(
        self,
        count: int,
        givers: Crowd,
        receivers: Crowd,
        *,
        start: datetime = START,
        end: datetime = END,
        always_to: str | None = None,
    ) -> None:
        """`count` appreciations at random instants in [start, end); `always_to` names a
        person who receives every one of them (with 0 to 2 others)."""
        span = (end - start).total_seconds()
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            appreciations, recipients = self.batch(size, givers, receivers, start, span, always_to)
            with self.engine.begin() as connection:
                bulk_insert(connection, Appreciation, appreciations)
                bulk_insert(connection, AppreciationRecipient, recipients)
        self._sync_sequences()
        # What `appreciation.record` keeps up to date one appreciation at a time.
        with Session(self.engine) as session, session.begin():
            queries.recount_all_time(session, Workspace(TEAM), None)

    def batch(
        self,
        size: int,
        givers: Crowd,
        receivers: Crowd,
        start: datetime,
        span: float,
        always_to: str | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of `size` appreciations at random instants in `span` seconds from
        `start`, and of their recipients, not inserted: for a caller that inserts them with
        rows of its own."""
        rng = self.rng
        from_ = givers.pick(rng, size)
        to = receivers.pick(rng, size * 3)
        appreciations = []
        recipients = []
        for n in range(size):
            appreciation_id = self.next_appreciation
            self.next_appreciation += 1
            giver = from_[n]
            wanted = rng.choices((1, 2, 3), weights=(70, 20, 10))[0]
            chosen = [always_to] if always_to else []
            chosen += to[3 * n : 3 * n + wanted - len(chosen)]
            named = [uid for uid in dict.fromkeys(chosen) if uid != giver]
            if not named:
                # The giver drew themself: thank someone else instead.
                named = [next(uid for uid in receivers.ids if uid != giver)]
            appreciation = {
                "id": appreciation_id,
                "team_id": TEAM,
                "enterprise_id": None,
                "giver_id": giver,
                "reason": f"for the release checklist, number {appreciation_id}",
                "company_values": [rng.choice(VALUES)] if rng.random() < 0.3 else [],
                "is_private": rng.random() < 0.1,
                "channel_id": "C111",
                "source_key": f"seed:{appreciation_id}",
                "created_at": start + timedelta(seconds=rng.random() * span),
            }
            appreciations.append(appreciation)
            for user_id in named:
                recipients.append(
                    {
                        "id": self.next_recipient,
                        "team_id": TEAM,
                        "enterprise_id": None,
                        "appreciation_id": appreciation_id,
                        "user_id": user_id,
                        # The copies `appreciation.record` makes.
                        "giver_id": giver,
                        "is_private": appreciation["is_private"],
                        "created_at": appreciation["created_at"],
                    }
                )
                self.next_recipient += 1
        return appreciations, recipients

    def _sync_sequences(self) -> None:
        """Ids were given explicitly; PostgreSQL's sequences must move past them."""
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:
            for table in ("appreciations", "appreciation_recipients"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )


def bulk_insert(connection: Connection, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(model), rows)
        return
    table = model.__table__
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])


def refresh_statistics(engine: Engine, *, sqlite: bool = False) -> None:
    """What autovacuum does to PostgreSQL after a bulk load: statistics and visibility map.

    SQLite gathers no statistics unless asked (ANALYZE), and the app never asks, so it is
    left as a production database would be unless `sqlite` is true.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    elif sqlite:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
