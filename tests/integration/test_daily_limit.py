"""The daily limit: one giver's appreciations on one day of their own calendar, counted by
one conditional upsert in the transaction that records each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from bot.domain import PersonInfo, Workspace
from bot.errors import UserError
from bot.services import appreciation
from bot.store.db import Database
from bot.store.models import Appreciation, DailyGiving

WS = Workspace("T111")
TOKYO = PersonInfo("UGIVER", tz="Asia/Tokyo")
# 23:30 in Tokyo (which keeps no summer time) a month ago: its day began 23.5 hours
# before, the UTC day 14.5 hours before.
AT = (datetime.now(UTC) - timedelta(days=30)).replace(hour=14, minute=30, second=0, microsecond=0)
DAY = AT.astimezone(ZoneInfo("Asia/Tokyo")).date()


def give(db: Database, n: int, at: datetime = AT, limit: int = 3) -> int:
    draft = appreciation.Draft("UGIVER", ["UANA"], f"thanks {n}", source_key=f"k{n}")
    return appreciation.record(db, WS, draft, TOKYO, at, daily_limit=limit).appreciation_id


def counted(db: Database) -> list[tuple[str, int]]:
    with db.transaction() as session:
        rows = session.execute(select(DailyGiving.day, DailyGiving.given).order_by(DailyGiving.day))
        return [(str(day), given) for day, given in rows]


def test_the_limit_refuses_the_one_past_it_and_keeps_nothing_of_it(db: Database) -> None:
    for n in range(3):
        give(db, n, AT - timedelta(hours=n))
    with pytest.raises(UserError, match="You've given 3 appreciations today"):
        give(db, 3)
    assert counted(db) == [(str(DAY), 3)]
    with db.transaction() as session:
        assert (
            session.scalar(select(Appreciation.id).where(Appreciation.source_key == "k3")) is None
        )
    # The giver's next day, in Tokyo: 30 minutes later.
    give(db, 4, AT + timedelta(minutes=30))
    assert counted(db) == [(str(DAY), 3), (str(DAY + timedelta(days=1)), 1)]


def test_a_day_begun_before_the_counter_counts_what_it_already_held(db: Database) -> None:
    """Appreciations recorded by a version without the counter: its first row starts from
    them."""
    give(db, 0, AT - timedelta(hours=20))
    give(db, 1, AT - timedelta(hours=10))
    with db.transaction() as session:
        session.execute(delete(DailyGiving))
    give(db, 2)
    assert counted(db) == [(str(DAY), 3)]
    with pytest.raises(UserError):
        give(db, 3)
