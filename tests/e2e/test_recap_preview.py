"""`advocate recap preview`: a person's year-end recap as text or Block Kit, from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, workspaces
from bot.slack import people
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.e2e.test_scheduled_work_cli import env_for, run, ticks_at_once, week_of_thanks
from tests.support.blockkit import assert_valid_message_blocks
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
__all__ = ["week_of_thanks"]  # the fixture, used by name


def test_recap_preview_prints_the_recap_or_says_there_is_none(
    runtime: Runtime, clock: MovableClock, slack: FakeSlack, tmp_path: Path
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    people.remember(runtime.db, WS, [PersonInfo(GIVER, "gloria"), PersonInfo(ANA, "ana")], clock())
    for n in range(2):
        appreciation.record(
            runtime.db,
            WS,
            appreciation.Draft(GIVER, [ANA], "for the close", source_key=f"r{n}"),
            PersonInfo(GIVER),
            datetime(2026, 3, 2 + n, 10, tzinfo=UTC),
            daily_limit=10,
        )
    env = env_for(runtime, slack)

    text = run(env, tmp_path, "recap", "preview", "--user", GIVER, "--year", "2026")
    assert text.returncode == 0, text.stderr
    assert "2026 recap for @gloria" in text.stdout and "1. @ana: 2 thanks from you" in text.stdout
    assert "You gave 2 appreciations and received 0" in text.stdout

    blocks = run(env, tmp_path, "recap", "preview", "--user", GIVER, "--year", "2026", "--json")
    message = json.loads(blocks.stdout)
    assert_valid_message_blocks(message["blocks"])
    assert f"<@{ANA}>" in json.dumps(message)

    nothing = run(env, tmp_path, "recap", "preview", "--user", BEN, "--year", "2026")
    assert (
        nothing.returncode == 0 and "there is no recap, and no DM would be sent" in nothing.stdout
    )
    earlier = run(env, tmp_path, "recap", "preview", "--user", GIVER, "--year", "2025", "--json")
    assert "no appreciation in 2025" in earlier.stdout


def test_three_tick_processes_at_once_send_each_recap_once(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    """Gloria, Ana and Ben were thanked in November; on Monday 14 December their check-ins
    come with their 2026 recaps, once each, however many processes tick."""
    env = env_for(week_of_thanks, slack)
    monday = "2026-12-14T18:00:00Z"  # past 09:30 Monday in New York and east of it
    ticks_at_once(env, tmp_path, monday, 3)
    for user_id in (GIVER, ANA, BEN):
        [recap] = [m for m in slack.messages(user_id) if "Your 2026 in thanks" in m["text"]]
        assert_valid_message_blocks(recap["blocks"])
    [gloria] = [m for m in slack.messages(GIVER) if "Your 2026 in thanks" in m["text"]]
    assert f"<@{ANA}>" in json.dumps(gloria) and "recap_thank_them" in json.dumps(gloria)
    again = run(env, tmp_path, "tick", "--now", "2026-12-21T18:00:00Z")
    assert again.returncode == 0
    assert len([m for m in slack.messages(GIVER) if "in thanks" in m["text"]]) == 1
