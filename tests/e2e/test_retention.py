"""Nothing piles up, through the real `advocate tick`: a sent message keeps its body for
ADVOCATE_MESSAGE_RETENTION_DAYS and its key only while it deduplicates, expired OAuth states
go, and an uninstalled workspace's data is purged after ADVOCATE_RETENTION_DAYS, in token
mode as in OAuth mode, with nothing registered again from a revoked token."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, asks, outbox, workspaces
from bot.services.schedule import week_of
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    Ask,
    Base,
    CheckinNudge,
    DailyGiving,
    InstalledWorkspace,
    OutboxMessage,
    slack_oauth_states,
)
from tests.conftest import ANA, GIVER, SIGNING_SECRET
from tests.e2e.processes import bot_env, running, wait_until
from tests.e2e.test_cli import advocate, clean_env
from tests.e2e.test_oauth import oauth_access
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
UTC_ZONE = ZoneInfo("UTC")
WORDS = "for the midnight renewal"


def now() -> datetime:
    return datetime.now(UTC)


def message(db: Database, key: str, *, age: timedelta, status: str = "sent") -> None:
    row = outbox.channel_post(
        WS, key=key, channel_id="C111", message={"text": f"{key} {WORDS}"}, now=now() - age
    )
    row.status = status
    row.sent_at = row.created_at if status == "sent" else None
    with db.transaction() as session:
        session.add(row)


def messages(db: Database) -> dict[str, OutboxMessage]:
    with db.transaction() as session:
        return {m.dedupe_key: m for m in session.scalars(select(OutboxMessage))}


def an_ask(db: Database, key: str) -> int:
    ask, _ = asks.start(
        db, WS, asker_id=GIVER, helper_id=ANA, request="review", channel_id="C111",
        due_on=None, timezone="UTC", source_key=key, now=now(),
    )  # fmt: skip
    return ask.id


def test_message_bodies_go_after_the_retention_and_keys_once_they_no_longer_deduplicate(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    month = timedelta(days=31)
    open_ask, closed_ask = an_ask(db, "a1"), an_ask(db, "a2")
    with db.transaction() as session:
        session.execute(update(Ask).where(Ask.id == closed_ask).values(status="done"))
    message(db, "appreciation:1:post", age=month)
    message(db, f"checkin:2026-W40:{ANA}", age=month, status="failed")
    message(db, f"recap:2025:{ANA}", age=month)
    message(db, f"ask:{open_ask}:unanswered", age=month)
    message(db, f"ask:{closed_ask}:post", age=month)
    message(db, "appreciation:2:post", age=timedelta(days=29))
    message(db, f"recap:2024:{ANA}", age=timedelta(days=500))
    with db.transaction() as session:
        session.execute(
            slack_oauth_states.insert(),
            [
                {"state": "old", "expire_at": (now() - timedelta(minutes=1)).replace(tzinfo=None)},
                {"state": "new", "expire_at": (now() + timedelta(minutes=9)).replace(tzinfo=None)},
            ],
        )
    with db.transaction() as session:
        for age in (0, 10):
            day = now() - timedelta(days=age)
            session.add(DailyGiving(team_id="T111", giver_id=GIVER, day=day.date(), given=1))
            when = now() - timedelta(weeks=age)
            nudge = CheckinNudge(team_id="T111", user_id=GIVER, week=week_of(when, UTC_ZONE))
            nudge.target_user_id, nudge.created_at = ANA, when
            session.add(nudge)
    env = bot_env(slack, db)

    # A clock far ahead decides what is due, never what is erased.
    ahead = (now() + timedelta(days=90)).isoformat()
    assert advocate("tick", "--now", ahead, env=env, cwd=tmp_path).returncode == 0
    assert messages(db)["appreciation:2:post"].payload["text"].endswith(WORDS)

    result = advocate("tick", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    kept = messages(db)
    assert sorted(kept) == sorted(
        [
            f"recap:2025:{ANA}",
            f"ask:{open_ask}:unanswered",
            "appreciation:2:post",
        ]
    )
    for key in (f"recap:2025:{ANA}", f"ask:{open_ask}:unanswered"):
        erased = kept[key]
        assert erased.payload == {} and erased.status == "sent" and erased.erased_at is not None
    assert kept["appreciation:2:post"].payload["text"].endswith(WORDS)
    with db.transaction() as session:
        states = list(session.scalars(select(slack_oauth_states.c.state)))
    assert states == ["new"]
    with db.transaction() as session:
        days = list(session.scalars(select(DailyGiving.day)))
        nudged = list(session.scalars(select(CheckinNudge.created_at)))
    assert days == [now().date()] and len(nudged) == 1 and now() - nudged[0] < timedelta(days=1)

    # Once its ask is closed, an ask's key no longer stops anything: it goes too.
    with db.transaction() as session:
        session.execute(update(Ask).where(Ask.id == open_ask).values(status="done"))
    assert advocate("tick", env=env, cwd=tmp_path).returncode == 0
    assert f"ask:{open_ask}:unanswered" not in messages(db)


def uninstall_later(db: Database, team: str, days: int) -> None:
    """As if the app had been uninstalled `days` ago (the purge runs on the real clock)."""
    with db.transaction() as session:
        session.execute(
            update(InstalledWorkspace)
            .where(InstalledWorkspace.team_id == team)
            .values(uninstalled_at=now() - timedelta(days=days))
        )


def rows_of(db: Database, team: str) -> int:
    total = 0
    with db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if "team_id" in table.c and table.name != "bot_tokens":
                query = select(func.count()).select_from(table).where(table.c.team_id == team)
                total += session.execute(query).scalar_one()
    return total


def registered(db: Database, team: str) -> list[datetime | None]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(InstalledWorkspace.uninstalled_at).where(InstalledWorkspace.team_id == team)
            )
        )


@pytest.mark.parametrize(
    ("event", "slack_refuses_the_token"),
    [("app_uninstalled", True), ("tokens_revoked", False)],
)
def test_token_mode_purges_an_uninstalled_workspace_and_never_registers_it_again(
    slack: FakeSlack,
    db: Database,
    tmp_path: Path,
    event: str,
    slack_refuses_the_token: bool,
) -> None:
    env = bot_env(slack, db, ADVOCATE_RETENTION_DAYS="1")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        draft = appreciation.Draft(GIVER, [ANA], WORDS, source_key="k1")
        appreciation.record(db, WS, draft, PersonInfo(GIVER), now(), daily_limit=10)
        body = {"type": event, "event_ts": "1.1"}
        if event == "tokens_revoked":
            body["tokens"] = {"oauth": [], "bot": ["UBOT"]}
        assert bot.client.event(body)[0] == 200
        assert wait_until(lambda: registered(db, "T111") != [None], 20)
    if slack_refuses_the_token:
        slack.revoke("xoxb-test")

    # Within the retention: kept, and not registered again.
    first = advocate("tick", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert registered(db, "T111") != [None] and rows_of(db, "T111") > 0

    uninstall_later(db, "T111", days=2)
    purged = advocate("tick", env=env, cwd=tmp_path)
    again = advocate("tick", env=env, cwd=tmp_path)

    assert purged.returncode == 0 and again.returncode == 0, purged.stderr + again.stderr
    assert rows_of(db, "T111") == 0
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Appreciation)) == 0


def test_oauth_mode_purges_an_uninstalled_workspace_after_the_retention(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = clean_env(
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="client-secret",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_RETENTION_DAYS="1",
    )
    slack.set_response("oauth.v2.access", oauth_access(team="T777"))
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        url = bot.client.base_url
        with urllib.request.urlopen(url + "/slack/install", timeout=10) as page:
            cookie = page.headers.get("Set-Cookie", "").split(";")[0]
            state = re.search(r"state=([\w-]+)", page.read().decode())
        assert state
        request = urllib.request.Request(
            f"{url}/slack/oauth_redirect?code=abc&state={state.group(1)}",
            headers={"Cookie": cookie},
        )
        with urllib.request.urlopen(request, timeout=10) as done:
            assert done.status == 200
        ours = Workspace("T777")
        draft = appreciation.Draft(GIVER, [ANA], WORDS, source_key="k1")
        appreciation.record(db, ours, draft, PersonInfo(GIVER), now(), daily_limit=10)
        uninstall = {"type": "app_uninstalled", "event_ts": "1.1"}
        assert bot.client.event(uninstall, team_id="T777")[0] == 200
        assert wait_until(lambda: not workspaces.active(db), 20)

    assert advocate("tick", env=env, cwd=tmp_path).returncode == 0
    assert rows_of(db, "T777") > 0
    uninstall_later(db, "T777", days=2)
    result = advocate("tick", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert rows_of(db, "T777") == 0
