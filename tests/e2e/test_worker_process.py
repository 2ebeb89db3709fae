"""`advocate run --http` answers in its own process and does the work in a worker process:
the work gets done, a worker that dies is replaced, stopping finishes what was answered,
and the worker never outlives the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import Appreciation
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET
from tests.e2e.processes import running, stored, wait_until
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving
from tests.support.slack_requests import SlackClientForTests


@dataclass
class Bot:
    process: subprocess.Popen[str]
    client: SlackClientForTests

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
        self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=timeout)
        return output


@pytest.fixture
def bot(slack: FakeSlack, db: Database, tmp_path: Path) -> Iterator[Bot]:
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
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
        yield Bot(process, SlackClientForTests(url, SIGNING_SECRET))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def children(pid: int) -> list[int]:
    """A process's children, from /proc (the tests run on Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def appreciate(bot: Bot, slack: FakeSlack, key: str) -> None:
    status, _ = bot.client.command(
        command="/appreciate",
        text=f"<@{ANA}> <@{BEN}> for the release notes {key}",
        user_id=GIVER,
        response_url=slack.response_url(key),
    )
    assert status == 200


def wait_for_replies(slack: FakeSlack, keys: set[str], timeout: float = 30) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        replied = {post["_key"] for post in slack.response_url_posts()} & keys
        if replied == keys or time.monotonic() > deadline:
            return replied
        time.sleep(0.05)


def appreciations(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Appreciation)) or 0)


def test_the_server_answers_and_its_worker_process_does_the_work(
    bot: Bot, slack: FakeSlack, db: Database
) -> None:
    (worker,) = children(bot.process.pid)
    appreciate(bot, slack, "r1")
    assert wait_for_replies(slack, {"r1"}) == {"r1"}
    assert appreciations(db) == 1
    # Recipients are told by DM: the worker called Slack.
    assert slack.wait_for("chat.postMessage", count=2, timeout=10)
    output = bot.stop()
    assert f"worker process {worker} started" in output
    assert "Traceback" not in output
    assert bot.process.returncode in (0, 130)


def test_events_are_worked_once_by_the_worker_process(
    bot: Bot, slack: FakeSlack, db: Database
) -> None:
    # The server records the event_id before it hands the event over; the worker must not
    # take its own record for a retry (as it did: no Home, no uninstall, no user_change).
    event = {"type": "app_home_opened", "user": GIVER, "tab": "home"}
    assert bot.client.event(event, event_id="Ev0HOME1")[0] == 200
    assert slack.wait_for("views.publish", count=1, timeout=20)
    assert bot.client.event(event, event_id="Ev0HOME1", retry_num=1)[0] == 200
    time.sleep(1.0)
    assert len(slack.calls_to("views.publish")) == 1


def test_a_worker_that_dies_is_replaced_by_the_next_request(
    bot: Bot, slack: FakeSlack, db: Database
) -> None:
    (worker,) = children(bot.process.pid)
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while worker in children(bot.process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    appreciate(bot, slack, "after")
    # A new worker process starts (a fresh interpreter, niced below the server): on a
    # machine busy with other tests it can take a while; it returns once the reply came.
    assert wait_for_replies(slack, {"after"}, timeout=90) == {"after"}
    # Spawned this time (the server now runs threads), beside multiprocessing's tracker.
    spawned = [c for c in children(bot.process.pid) if b"spawn_main" in command_line(c)]
    assert len(spawned) == 1 and spawned[0] != worker
    output = bot.stop()
    assert "the worker process exited (code -9); starting another" in output


def test_stopping_loses_nothing_that_was_answered(
    bot: Bot, slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    # Each request's work waits for slow Slack answers; the answers come first.
    slack.set_delay("users.info", 0.5)
    keys = {f"r{n}" for n in range(5)}
    for key in sorted(keys):
        appreciate(bot, slack, key)
    assert not wait_for_replies(slack, keys, timeout=0)
    bot.stop(signal.SIGTERM)
    assert bot.process.returncode in (0, 130)
    # What was in hand was finished; anything not yet taken is stored for the next start.
    assert appreciations(db) + stored(db) == 5
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.url, DATABASE_URL=db.url)
    with running(env, tmp_path, "worker"):
        assert wait_until(lambda: appreciations(db) == 5 and stored(db) == 0)
    assert wait_for_replies(slack, keys, timeout=0) == keys


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_worker_does_not_outlive_a_killed_server(bot: Bot, slack: FakeSlack) -> None:
    (worker,) = children(bot.process.pid)
    bot.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    # Reparented and reaped by init, or a zombie of no one: either way not running.
    status = Path(f"/proc/{worker}/stat")
    assert not status.exists() or status.read_text().rsplit(")", 1)[1].split()[0] == "Z"
