"""The real `advocate` processes, started as an operator starts them, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import Appreciation, SlackRequest
from tests.conftest import SIGNING_SECRET
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving
from tests.support.slack_requests import SlackClientForTests


@dataclass
class Running:
    process: subprocess.Popen[str]
    client: SlackClientForTests | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
        """Signal the process (and, for SIGKILL, its whole group) and return its output."""
        if sig == signal.SIGKILL:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(sig)
        output, _ = self.process.communicate(timeout=timeout)
        return output


def bot_env(slack: FakeSlack, db: Database, **extra: str) -> dict[str, str]:
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": db.url,
    }
    return clean_env(**{**values, **extra})


def start(env: dict[str, str], cwd: Path, *args: str) -> Running:
    """`advocate <args>` in a process group of its own; HTTP ones are waited for."""
    port = None
    if args[0] == "run" and "--socket" not in args:
        port = free_port()
        args = (*args, "--port", str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Running(process)
    if port is not None:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_serving(url, process)
        except AssertionError as failed:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise AssertionError(f"{failed}; its output:\n{output}") from None
        running.client = SlackClientForTests(url, SIGNING_SECRET)
    return running


@contextmanager
def running(env: dict[str, str], cwd: Path, *args: str) -> Iterator[Running]:
    bot = start(env, cwd, *args)
    try:
        yield bot
    finally:
        if bot.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(bot.process.pid, signal.SIGKILL)
            bot.process.communicate()


def appreciations(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Appreciation)) or 0)


def stored(db: Database, status: str = "pending") -> int:
    with db.transaction() as session:
        query = select(func.count()).select_from(SlackRequest).where(SlackRequest.status == status)
        return int(session.scalar(query) or 0)


def wait_until(check: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return bool(check())  # type: ignore[operator]
