"""Counting rules hold however many requests arrive at once, through `advocate run --http`."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store.db import Database
from tests.conftest import ANA, GIVER, SIGNING_SECRET
from tests.e2e.test_cli import clean_env
from tests.e2e.test_worker_process import appreciations, wait_for_replies
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving
from tests.support.slack_requests import SlackClientForTests

LIMIT = 3


@pytest.fixture
def limited_bot(slack: FakeSlack, db: Database, tmp_path: Path) -> Iterator[SlackClientForTests]:
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DAILY_LIMIT=str(LIMIT),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--no-scheduler", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process)
        yield SlackClientForTests(url, SIGNING_SECRET)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("burst", [8, 50])
def test_a_burst_from_one_giver_records_exactly_the_daily_limit(
    limited_bot: SlackClientForTests, slack: FakeSlack, db: Database, burst: int
) -> None:
    keys = [f"b{n}" for n in range(burst)]

    def send(key: str) -> int:
        status, _ = limited_bot.command(
            command="/appreciate",
            text=f"<@{ANA}> for the launch checklist {key}",
            user_id=GIVER,
            response_url=slack.response_url(key),
        )
        return status

    with ThreadPoolExecutor(max_workers=burst) as pool:
        assert set(pool.map(send, keys)) == {200}
    assert wait_for_replies(slack, set(keys), timeout=60) == set(keys)

    assert appreciations(db) == LIMIT
    told = [p for p in slack.response_url_posts() if f"given {LIMIT} appreciations" in str(p)]
    assert len(told) == burst - LIMIT
    channel_posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C111"]
    assert len(channel_posts) == LIMIT
