"""The insights page reads closed weeks from the tallies it works out once, through the real
processes: `advocate run` serves pages over weeks gone by (eight browsers at once on a new
database work each week out once), `advocate tick` works weeks out ahead of the pages, and
`advocate forget` leaves nothing of the person in any of them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, insight_tallies
from bot.store.db import Database
from bot.store.models import (
    InsightSpan,
    InsightTalliedWeek,
    InsightTeamSpan,
    InsightTeamWeek,
    InsightWeek,
)
from tests.conftest import ANA, BEN, GIVER, TEAM
from tests.e2e.processes import Running, bot_env, running
from tests.e2e.test_cli import advocate
from tests.e2e.test_signin import CLIENT_ID, CLIENT_SECRET, base, sign_in
from tests.e2e.test_surfaces import OverHttp, Story
from tests.support.fake_slack import FakeSlack

ADMIN = "U900"


@pytest.fixture
def bot(slack: FakeSlack, db: Database, tmp_path: Path) -> Iterator[tuple[Running, dict[str, str]]]:
    slack.add_user(ADMIN, name="maya", real_name="Maya", is_admin=True)
    slack.add_usergroup("S0SALES", "Sales", [ADMIN, ANA, BEN])
    slack.openid_client(CLIENT_ID, CLIENT_SECRET)
    env = bot_env(slack, db, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as started:
        assert started.client is not None
        story = Story(slack, db, OverHttp(started.client))
        # Through the app: the workspace, its people and this week.
        story.command("/appreciate", f"<@{ANA}> for the renewal numbers", "t1", GIVER)
        # Weeks gone by, as they were recorded then.
        now = datetime.now(UTC)
        for weeks_ago, giver, to in ((2, BEN, ANA), (2, GIVER, ANA), (3, ANA, BEN)):
            at = now - timedelta(weeks=weeks_ago)
            draft = appreciation.Draft(giver, [to], "for the deck", source_key=f"old{at}{giver}")
            appreciation.record(
                db, Workspace(TEAM), draft, PersonInfo(giver), at, daily_limit=10_000
            )
        yield started, env


def weekly(started: Running, slack: FakeSlack) -> list[list[str]]:
    browser = sign_in(started, slack, ADMIN)
    answer = browser.follow(base(started) + "/insights.csv?period=4w&table=weekly")
    assert answer.status == 200, answer.body
    return list(csv.reader(io.StringIO(answer.body)))[1:]


def rows(db: Database, model: type) -> list[Any]:
    with db.transaction() as session:
        return list(session.scalars(select(model)))


def test_pages_at_once_work_each_closed_week_out_once(
    bot: tuple[Running, dict[str, str]], slack: FakeSlack, db: Database
) -> None:
    started, _ = bot

    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: weekly(started, slack), range(8)))

    assert all(page == pages[0] for page in pages)
    # Four weeks: three and two weeks ago from the tallies, this week from history.
    counts = [int(appreciations) for _, appreciations, _ in pages[0]]
    assert counts[-1] >= 1 and sorted(counts[:3]) == [0, 1, 2]
    marks = [(m.kind, m.week) for m in rows(db, InsightTalliedWeek)]
    assert marks and len(marks) == len(set(marks))
    closed = insight_tallies.closed_before(datetime.now(UTC)).date()
    assert all(week < closed for _, week in marks)
    assert {m.week for m in rows(db, InsightWeek)} <= {week for _, week in marks}


def test_the_tick_works_weeks_out_and_forget_leaves_nothing_of_them(
    bot: tuple[Running, dict[str, str]], slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    started, env = bot
    ticked = advocate("tick", env=env, cwd=tmp_path)
    assert ticked.returncode == 0, ticked.stderr
    assert "could not work out" not in ticked.stderr
    assert {m.kind for m in rows(db, InsightTalliedWeek)} == {"people", "teams"}
    before = weekly(started, slack)
    assert {m.user_id for m in rows(db, InsightSpan)} >= {BEN}

    forgot = advocate("forget", "--user", BEN, env=env, cwd=tmp_path)
    assert forgot.returncode == 0, forgot.stderr

    kept = [
        *(m.user_id for m in rows(db, InsightWeek)),
        *(m.user_id for m in rows(db, InsightSpan)),
        *(m.key for m in rows(db, InsightTeamSpan)),
        *(m.carrier for m in rows(db, InsightTeamWeek)),
    ]
    assert not [value for value in kept if BEN in value]
    # What they gave still counts, as anonymous thanks; they are no longer among the thanked.
    after = weekly(started, slack)
    assert [week[:2] for week in after] == [week[:2] for week in before]
    assert sum(int(week[2]) for week in after) == sum(int(week[2]) for week in before) - 1
    assert not [value for value in (m.user_id for m in rows(db, InsightWeek)) if BEN in value]
