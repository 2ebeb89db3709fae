"""`advocate tick` and `advocate digest` as separate processes against one database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.blocks.appreciation import APPRECIATE_PERSON, appreciate_person_value
from bot.blocks.listening import FOLLOWUP_PREFIX, followup_value
from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, workspaces
from bot.services.people import mark_used
from bot.slack import people
from bot.store.models import Ask, CheckinNudge, Listen
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
DIGEST_AT = "2026-11-27T15:00:00Z"  # Friday 16:00 in Paris


@pytest.fixture
def week_of_thanks(runtime: Runtime, clock: MovableClock) -> Runtime:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    people.remember(
        runtime.db,
        WS,
        [PersonInfo(GIVER, "gloria"), PersonInfo(ANA, "ana"), PersonInfo(BEN, "ben")],
        clock(),
    )
    for n, (giver, recipient) in enumerate([(GIVER, ANA), (BEN, ANA), (GIVER, BEN)]):
        draft = appreciation.Draft(giver, [recipient], f"for help #{n}", source_key=f"s{n}")
        appreciation.record(
            runtime.db,
            WS,
            draft,
            PersonInfo(giver),
            datetime(2026, 11, 24, 10, tzinfo=UTC),
            daily_limit=10,
        )
    mark_used(runtime.db, WS, [GIVER, ANA, BEN], clock())
    return runtime


def env_for(runtime: Runtime, slack: FakeSlack, **extra: str) -> dict[str, str]:
    return clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=slack.url,
        DATABASE_URL=runtime.db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
        ADVOCATE_TIMEZONE="Europe/Paris",
        **extra,
    )


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ticks_at_once(env: dict[str, str], cwd: Path, now: str, count: int) -> None:
    """`count` `advocate tick --now <now>` processes started together; each must succeed."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "tick", "--now", now],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_separate_tick_processes_post_the_digest_and_checkins_once(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(week_of_thanks, slack)
    # Friday 16:00 in Paris, and also past Monday 09:30 for nobody: only the digest is due.
    ticks_at_once(env, tmp_path, DIGEST_AT, 4)
    assert len(slack.messages("C111")) == 1

    monday = "2026-11-30T14:31:00Z"  # 09:31 in New York, later everywhere east of it
    ticks_at_once(env, tmp_path, monday, 4)
    for user_id in (GIVER, ANA, BEN):
        sent = [m for m in slack.messages(user_id) if "weekly check-in" in m["text"]]
        assert len(sent) == 1, user_id


def test_digest_preview_prints_readable_text_and_json(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(week_of_thanks, slack)
    text = run(env, tmp_path, "digest", "preview", "--week", "2026-W48")
    assert text.returncode == 0, text.stderr
    assert "@ana" in text.stdout and "Internal advocates, week 2026-W48" in text.stdout
    assert "covers Fri 20 Nov 16:00 – Fri 27 Nov 16:00 (Europe/Paris)" in text.stdout
    assert "<@" not in text.stdout

    as_json = run(env, tmp_path, "digest", "preview", "--week", "2026-W48", "--json")
    assert json.loads(as_json.stdout)["blocks"]

    empty = run(env, tmp_path, "digest", "preview", "--week", "2026-W40")
    assert empty.returncode == 0
    assert empty.stdout == (
        "No appreciation for the 2026-W40 digest, which covers Fri 25 Sep 16:00 – "
        "Fri 2 Oct 16:00 (Europe/Paris): nothing to post.\n"
    )


def test_digest_post_posts_once_however_often_it_is_run(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(week_of_thanks, slack)
    first = run(env, tmp_path, "digest", "post", "--week", "2026-W48")
    second = run(env, tmp_path, "digest", "post", "--week", "2026-W48")
    assert first.returncode == 0 and "posted" in first.stdout
    assert second.returncode == 0 and "already posted" in second.stdout
    assert len(slack.messages("C111")) == 1


def test_digest_post_to_an_unreachable_channel_exits_non_zero_with_the_reason(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    slack.set_channel("G500", is_member=False, is_private=True)
    env = env_for(week_of_thanks, slack)
    result = run(env, tmp_path, "digest", "post", "--week", "2026-W48", "--channel", "G500")
    assert result.returncode != 0
    assert "invite it" in result.stderr and "Traceback" not in result.stderr


def test_bad_week_is_one_clear_line(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    result = run(env_for(week_of_thanks, slack), tmp_path, "digest", "preview", "--week", "48")
    assert result.returncode != 0 and "2026-W48" in result.stderr


def test_ticked_checkin_carries_the_followup_and_the_person_to_thank_once(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock, tmp_path: Path
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    people.remember(runtime.db, WS, [PersonInfo(u) for u in (GIVER, ANA, BEN)], clock())
    mark_used(runtime.db, WS, [GIVER, ANA, BEN], clock())
    done = datetime(2026, 11, 26, 12, tzinfo=UTC)
    with runtime.db.transaction() as session:
        asks = [
            Ask(
                team_id=WS.team_id,
                asker_id=GIVER,
                helper_id=ANA,
                request=f"the renewal quote, part {n}",
                channel_id="C111",
                status="done",
                source_key=f"ask-{n}",
                created_at=done,
                updated_at=done,
                done_at=done,
            )
            for n in (1, 2)
        ]
        listen = Listen(
            team_id=WS.team_id,
            asker_id=GIVER,
            colleague_id=BEN,
            status="answered",
            need="Two days' notice before a <!channel> launch",
            source_key="listen-1",
            created_at=done,
            answered_at=done,
        )
        session.add_all([*asks, listen])
    env = env_for(runtime, slack)

    monday = "2026-11-30T14:31:00Z"  # 09:31 in New York, later everywhere east of it
    ticks_at_once(env, tmp_path, monday, 3)
    [checkin] = [m for m in slack.messages(GIVER) if "weekly check-in" in m["text"]]
    texts = " ".join(b["text"]["text"] for b in checkin["blocks"] if "text" in b)
    assert (
        f"<@{BEN}> told you they need “Two days' notice before a &lt;!channel&gt; launch”. "
        "Did you act on it?" in texts
    )
    assert f"<@{ANA}> kept 2 commitments for you, and you haven't thanked them yet." in texts
    values = {
        e["action_id"]: e.get("value")
        for b in checkin["blocks"]
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("type") == "button"
    }
    assert values[FOLLOWUP_PREFIX + "yes"] == followup_value(listen.id, "2026-W49")
    assert values[APPRECIATE_PERSON] == appreciate_person_value(ANA, [a.id for a in asks])
    # The need is the giver's alone; the nudge is remembered for next week.
    for other in (ANA, BEN):
        assert "notice before" not in str(slack.messages(other))
    with runtime.db.transaction() as session:
        [nudge] = session.scalars(select(CheckinNudge))
    assert (nudge.user_id, nudge.week, nudge.target_user_id) == (GIVER, "2026-W49", ANA)
