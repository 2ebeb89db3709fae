"""The fake Slack Web API in a process of its own, so that it competes with neither the
load generator nor the app for a Python interpreter lock.

`python -m bench.fakeslack --users 1000` prints its base URL on the first line of stdout
and serves until it is terminated. Besides the Web API it answers `GET /bench/stats` with
how many calls each method received and when each response URL was posted to, which is
how the benchmarks know that an app has finished the work it does after the ack, and
`GET /bench/delay?seconds=S`, which makes every Web API method answer S seconds late.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email.message import Message
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import urlopen

from bench.common import REPO, TEAM, python_env, stop_process
from tests.support.fake_slack import FakeSlack, _Reply

STATS_PATH = "/bench/stats"
DELAY_PATH = "/bench/delay"
RECIPIENTS = ("U222", "U333")


def giver_ids(count: int) -> list[str]:
    """The people who send commands: many of them, so no one reaches the daily limit."""
    return [f"U{10000 + n}" for n in range(count)]


class MeasuredFakeSlack(FakeSlack):
    """FakeSlack that also notes when each response URL was posted to."""

    def __init__(self, team_id: str = TEAM) -> None:
        super().__init__(team_id=team_id)
        self.responded_at: dict[str, float] = {}

    def _handle_http(self, raw_path: str, headers: Message, body: bytes) -> _Reply:
        path = urlsplit(raw_path).path
        if path == STATS_PATH:
            return _Reply(HTTPStatus.OK, self.stats(), {})
        if path == DELAY_PATH:
            seconds = float(parse_qs(urlsplit(raw_path).query).get("seconds", ["0"])[0])
            for method in self._handlers:
                self.set_delay(method, seconds)
            return _Reply(HTTPStatus.OK, {"ok": True, "seconds": seconds}, {})
        if path.startswith("/response/"):
            self.responded_at[unquote(path[len("/response/") :])] = time.time()
        return super()._handle_http(raw_path, headers, body)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = Counter(call.method for call in self.calls)
            return {"counts": dict(counts), "responded_at": dict(self.responded_at)}


class FakeSlackProcess:
    """Starts `python -m bench.fakeslack` and talks to its stats endpoint."""

    def __init__(self, users: int, log_path: Path) -> None:
        self.users = users
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeSlackProcess:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.fakeslack", "--users", str(self.users)],
                env=python_env(),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http"):
            stop_process(self.process)
            raise RuntimeError(f"the fake Slack did not start; see {self.log_path}")
        self.url = line
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            stop_process(self.process)

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def base(self) -> str:
        return self.url.removesuffix("api/").rstrip("/")

    def response_url(self, key: str) -> str:
        return f"{self.base}/response/{key}"

    def stats(self) -> dict[str, Any]:
        with urlopen(self.base + STATS_PATH, timeout=10) as response:
            return dict(json.load(response))

    def set_latency(self, seconds: float) -> None:
        """Make every Web API method answer after `seconds`, as the real Slack takes time."""
        with urlopen(f"{self.base}{DELAY_PATH}?seconds={seconds}", timeout=10) as response:
            response.read()

    def wait_for_responses(self, keys: set[str], timeout: float) -> dict[str, float]:
        """Wait until every key's response URL was posted to; returns when each was."""
        deadline = time.monotonic() + timeout
        while True:
            responded = self.stats()["responded_at"]
            if keys <= responded.keys():
                return {key: responded[key] for key in keys}
            if time.monotonic() > deadline:
                missing = len(keys - responded.keys())
                raise TimeoutError(f"{missing} of {len(keys)} responses never came")
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000, help="people who give (U10000...)")
    args = parser.parse_args()
    fake = MeasuredFakeSlack()
    for user_id in (*giver_ids(args.users), *RECIPIENTS):
        fake.add_user(user_id, tz="Europe/Paris")
    fake.start()
    print(fake.url, flush=True)

    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    fake.stop()


if __name__ == "__main__":
    main()
