"""An ask whose process is killed between its post and its questions, through the real
`advocate run --http`: after a restart the questions go out in its thread, once, at once."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Ask
from tests.conftest import ANA, GIVER, MovableClock
from tests.e2e.processes import bot_env, running, start, wait_until
from tests.support.fake_slack import FakeSlack


def test_an_ask_killed_between_its_post_and_its_questions_gets_them_once_after_a_restart(
    slack: FakeSlack, db: Database, tmp_path: Path, clock: MovableClock
) -> None:
    clock.now = datetime.now(UTC)  # Slack's timestamps are the processes' real time
    env = bot_env(slack, db)
    # The ask's post reaches Slack, and everything dies before Slack answers.
    slack.set_delay("chat.postMessage", 30)
    bot = start(env, tmp_path, "run", "--http", "--no-scheduler")
    assert bot.client is not None
    status, _ = bot.client.command(
        command="/ask",
        text=f"<@{ANA}> review the renewal quote",
        user_id=GIVER,
        response_url=slack.response_url("ask"),
    )
    assert status == 200

    def posts() -> list[dict[str, object]]:
        return [
            m
            for m in slack.messages("C111")
            if not m.get("thread_ts") and "renewal quote" in str(m)
        ]

    assert wait_until(lambda: len(posts()) == 1, 30)
    bot.stop(signal.SIGKILL)
    slack.set_delay("chat.postMessage", 0)

    def questions() -> list[dict[str, object]]:
        return [
            m
            for m in slack.messages("C111")
            if m.get("thread_ts") and "anything in the way" in str(m.get("text"))
        ]

    started = time.monotonic()
    with running(env, tmp_path, "run", "--http", "--no-scheduler"):
        # Well before the dead sender's 60-second lease would have ended.
        assert wait_until(lambda: len(questions()) == 1, 20), "the questions never came"
        took = time.monotonic() - started
        time.sleep(1.0)

    assert took < 20
    [post] = posts()
    [asked] = questions()
    with db.transaction() as session:
        [row] = session.scalars(select(Ask)).all()
    assert row.thread_ts == post["ts"] == asked["thread_ts"]
    replies = [p["text"] for p in slack.response_url_posts("ask")]
    assert len(replies) == 1 and "Asked" in replies[0], replies
