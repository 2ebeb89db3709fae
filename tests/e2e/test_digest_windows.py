"""Every appreciation reaches exactly one digest: a schedule walked week by week with real
`advocate tick` processes, across daylight-saving changes and schedule changes."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import WEEKDAYS, Settings
from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, workspaces
from bot.services import settings as workspace_settings
from bot.slack import people
from bot.store.db import Database
from bot.store.models import PostedDigest
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
HOUR = timedelta(hours=1)
PEOPLE = [GIVER, ANA, BEN, "U444", "U555"]
TOTALS = re.compile(r"(\d+) appreciations? from")
WEEK = re.compile(r"\((\d{4}-W\d{2})\)")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Step:
    """`advocate tick --now at`, after the admins moved the schedule to `schedule`."""

    at: datetime
    posts: str | None  # the week whose digest this tick posts; None: it posts none
    schedule: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Walk:
    timezone: str
    day: str
    time: str
    given_from: datetime  # an appreciation every hour from here...
    given_until: datetime  # ...to here
    first_start: datetime  # where the first digest starts: seven days before its instant
    steps: list[Step]
    hours: dict[str, int]  # the length of some windows


WALKS = {
    # Friday 16:00 in Paris, through the spring-forward of Sunday 29 March 2026 (the W14
    # digest covers 167 hours); then moved to Monday 09:00, then to Wednesday 12:00 in New
    # York (which moved its clocks on 8 March).
    "spring": Walk(
        timezone="Europe/Paris",
        day="fri",
        time="16:00",
        given_from=utc(2026, 3, 18, 0, 0),
        given_until=utc(2026, 4, 17, 0, 0),
        first_start=utc(2026, 3, 20, 15, 0),
        steps=[
            Step(utc(2026, 3, 27, 14, 59), None),  # a minute early
            Step(utc(2026, 3, 27, 15, 1), "2026-W13"),
            Step(utc(2026, 3, 27, 18, 0), None),  # the same evening: already posted
            Step(utc(2026, 4, 3, 14, 0), "2026-W14"),  # 16:00 summer time
            Step(utc(2026, 4, 6, 7, 0), "2026-W15", {"digest_day": "mon", "digest_time": "09:00"}),
            Step(utc(2026, 4, 13, 7, 30), "2026-W16"),
            Step(
                utc(2026, 4, 15, 16, 0),
                None,  # W16's digest went out on Monday: Wednesday's is not repeated
                {"digest_day": "wed", "digest_time": "12:00", "timezone": "America/New_York"},
            ),
            Step(utc(2026, 4, 22, 16, 0), "2026-W17"),
        ],
        hours={"2026-W13": 168, "2026-W14": 167, "2026-W15": 65, "2026-W17": 9 * 24 + 9},
    ),
    # Monday 09:00 in Paris, through the fall-back of Sunday 25 October 2026 (the W44 digest
    # covers 169 hours); on Tuesday moved to Friday 16:00 UTC: W44's is not posted again, and
    # W45's covers from Monday 26 October on.
    "autumn": Walk(
        timezone="Europe/Paris",
        day="mon",
        time="09:00",
        given_from=utc(2026, 10, 9, 0, 0),
        given_until=utc(2026, 11, 9, 0, 0),
        first_start=utc(2026, 10, 12, 7, 0),
        steps=[
            Step(utc(2026, 10, 19, 7, 0), "2026-W43"),
            Step(utc(2026, 10, 26, 8, 0), "2026-W44"),  # 09:00 winter time
            Step(
                utc(2026, 10, 30, 16, 0),
                None,  # W44's went out on Monday
                {"digest_day": "fri", "digest_time": "16:00", "timezone": "UTC"},
            ),
            Step(utc(2026, 11, 6, 16, 5), "2026-W45"),
        ],
        hours={"2026-W43": 168, "2026-W44": 169, "2026-W45": 11 * 24 + 8},
    ),
}


def seed(db: Database, walk: Walk) -> list[datetime]:
    """An appreciation at every hour from `given_from` to `given_until`, through the service."""
    workspaces.ensure(db, WS, "Example", walk.given_from)
    people.remember(db, WS, [PersonInfo(u, u.lower()) for u in PEOPLE], walk.given_from)
    given = []
    at = walk.given_from
    n = 0
    while at < walk.given_until:
        giver, recipient = PEOPLE[n % 5], PEOPLE[(n + 1 + n // 5) % 5]
        if recipient == giver:
            recipient = PEOPLE[(n + 2) % 5]
        draft = appreciation.Draft(
            giver, [recipient], f"hour {n}", source_key=f"hour-{n}", notify=False
        )
        appreciation.record(db, WS, draft, PersonInfo(giver), at, daily_limit=100)
        given.append(at)
        at += HOUR
        n += 1
    return given


def tick(env: dict[str, str], cwd: Path, at: datetime) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "tick", "--now", iso(at)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def posted_totals(slack: FakeSlack) -> dict[str, int]:
    """The appreciation each posted digest counts, by the week its header names."""
    totals: dict[str, int] = {}
    for message in slack.messages("C111"):
        blocks: list[dict[str, Any]] = message["blocks"]
        [week] = WEEK.findall(blocks[0]["text"]["text"])
        texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
        [total] = [int(m.group(1)) for t in texts if (m := TOTALS.search(t))]
        assert week not in totals, f"the {week} digest was posted twice"
        totals[week] = total
    return totals


@pytest.mark.parametrize("name", sorted(WALKS))
def test_each_appreciation_is_in_exactly_one_posted_digest(
    name: str,
    db: Database,
    slack: FakeSlack,
    settings: Settings,
    clock: MovableClock,
    tmp_path: Path,
) -> None:
    walk = WALKS[name]
    given = seed(db, walk)
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
        ADVOCATE_DIGEST_DAY=walk.day,
        ADVOCATE_DIGEST_TIME=walk.time,
        ADVOCATE_TIMEZONE=walk.timezone,
    )
    defaults = replace(
        settings,
        digest_channel="C111",
        digest_day=walk.day,
        digest_time=walk.time,
        timezone=walk.timezone,
    )
    schedule = {"digest_day": walk.day, "digest_time": walk.time, "timezone": walk.timezone}
    expected: list[str] = []
    for step in walk.steps:
        if step.schedule:
            before = workspace_settings.for_workspace(db, WS, defaults)
            schedule |= step.schedule
            workspace_settings.save(db, WS, "UADMIN", dict(schedule), before, step.at)
        tick(env, tmp_path, step.at)
        if step.posts:
            expected.append(step.posts)
        assert list(posted_totals(slack)) == expected, f"after the tick at {step.at}"

    with db.transaction() as session:
        windows = [
            (row.week, row.starts_at, row.ends_at)
            for row in session.scalars(select(PostedDigest).order_by(PostedDigest.week))
        ]
    assert [week for week, _, _ in windows] == expected
    # The windows tile time: each starts where the one before ended.
    assert windows[0][1] == walk.first_start
    for (_, _, end), (_, start, _) in pairwise(windows):
        assert start == end
    for week, start, end in windows:
        if week in walk.hours:
            assert end - start == walk.hours[week] * HOUR, week
    # Each digest counts what was given in its window, and all of it together counts every
    # appreciation from the first digest's start to the last one's end, once.
    totals = posted_totals(slack)
    for week, start, end in windows:
        assert start is not None and end is not None
        assert totals[week] == sum(start <= at < end for at in given), week
    covered = [at for at in given if windows[0][1] <= at < windows[-1][2]]
    assert sum(totals.values()) == len(covered)


def test_the_digest_a_week_after_one_at_midnight_holds_what_was_given_in_between(
    db: Database, slack: FakeSlack, tmp_path: Path
) -> None:
    """Digest day today at 00:00 UTC, an appreciation now, the tick a week later at 00:01."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    workspaces.ensure(db, WS, "Example", now)
    draft = appreciation.Draft(GIVER, [ANA], "the launch", source_key="now", notify=False)
    appreciation.record(db, WS, draft, PersonInfo(GIVER), now, daily_limit=10)
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
        ADVOCATE_DIGEST_DAY=WEEKDAYS[midnight.weekday()],
        ADVOCATE_DIGEST_TIME="00:00",
    )
    tick(env, tmp_path, midnight + timedelta(days=7, minutes=1))
    assert list(posted_totals(slack).values()) == [1]
