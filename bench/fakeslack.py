"""The fake Slack Web API in a process of its own, so that it competes with neither the
load generator nor the app for a Python interpreter lock.

`python -m bench.fakeslack --users 1000` prints its base URL on the first line of stdout
and serves until it is terminated. Besides the Web API it answers `GET /bench/stats` with
how many calls each method received, when each response URL was posted to (which is how
the benchmarks know that an app has finished the work it does after the ack), when a
`chat.postMessage` to a channel arrived for each giver (the person its text mentions
first: how long a command took to show in the channel) and when `views.open` was called
for each trigger id (how long a modal took to open), only those since `?since=T` (a Unix
time) when that is given; and `GET /bench/delay?seconds=S`, which
makes every Web API method answer S seconds late.

Unlike the tests' FakeSlack it keeps counts, not the calls themselves, so that a long run
neither fills its memory nor slows its answers down.
"""

from __future__ import annotations

import argparse
import json
import re
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
from tests.support.fake_slack import FakeSlack, _Reply, _Server

STATS_PATH = "/bench/stats"
DELAY_PATH = "/bench/delay"
RECIPIENTS = ("U222", "U333")
# Connections waiting to be accepted. http.server's default, 5, overflows when a server's
# 16 workers each open a connection per Web API call (slack_sdk keeps none open), and every
# connection dropped there costs its caller a 1 s SYN retry: a delay Slack doesn't add.
LISTEN_BACKLOG = 1024
# The first mention in a channel post's text is its giver's, in Advocate's post and the work
# floor's alike: "<@U10001> appreciates <@U222> and <@U333>".
GIVER = re.compile(r"<@([UW][A-Z0-9]+)")


def giver_ids(count: int) -> list[str]:
    """The people who send commands: many of them, so no one reaches the daily limit."""
    return [f"U{10000 + n}" for n in range(count)]


class MeasuredFakeSlack(FakeSlack):
    """FakeSlack that also notes when each response URL was posted to, when each giver's
    channel posts arrived and when each trigger id opened a view, and counts the calls
    instead of keeping them."""

    def __init__(self, team_id: str = TEAM) -> None:
        super().__init__(team_id=team_id)
        self.responded_at: dict[str, float] = {}
        self.posted_at: dict[str, list[float]] = {}
        self.opened_at: dict[str, float] = {}
        self.counts: Counter[str] = Counter()

    def _handle_http(self, raw_path: str, headers: Message, body: bytes) -> _Reply:
        parts = urlsplit(raw_path)
        if parts.path == STATS_PATH:
            since = float(parse_qs(parts.query).get("since", ["0"])[0])
            return _Reply(HTTPStatus.OK, self.stats(since), {})
        if parts.path == DELAY_PATH:
            seconds = float(parse_qs(parts.query).get("seconds", ["0"])[0])
            for method in self._handlers:
                self.set_delay(method, seconds)
            return _Reply(HTTPStatus.OK, {"ok": True, "seconds": seconds}, {})
        if parts.path.startswith("/response/"):
            with self._lock:
                self.responded_at[unquote(parts.path[len("/response/") :])] = time.time()
        reply = super()._handle_http(raw_path, headers, body)
        with self._lock:
            self.counts.update(call.method for call in self.calls)
            self.calls.clear()
        return reply

    def _chat_post_message(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        arrived = time.time()
        answer = super()._chat_post_message(params, token)
        channel = str(params.get("channel", ""))
        giver = GIVER.match(str(params.get("text", "")))
        # Called with the lock held (FakeSlack._handle_api). DMs go to a user id: not counted.
        if answer.get("ok") and channel[:1] in ("C", "G") and giver:
            self.posted_at.setdefault(giver.group(1), []).append(arrived)
        return answer

    def _views_open(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        answer = super()._views_open(params, token)
        if answer.get("ok"):
            self.opened_at[str(params.get("trigger_id"))] = time.time()
        return answer

    def stats(self, since: float = 0.0) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": dict(self.counts),
                "responded_at": {k: t for k, t in self.responded_at.items() if t >= since},
                "posted_at": {
                    giver: kept
                    for giver, times in self.posted_at.items()
                    if (kept := [t for t in times if t >= since])
                },
                "opened_at": {k: t for k, t in self.opened_at.items() if t >= since},
            }


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

    def stats(self, since: float = 0.0) -> dict[str, Any]:
        """Calls per method so far, and the response URLs posted to, the channel posts (by
        giver) and the views opened since `since` (a Unix time), each with when."""
        with urlopen(f"{self.base}{STATS_PATH}?since={since!r}", timeout=10) as response:
            return dict(json.load(response))

    def set_latency(self, seconds: float) -> None:
        """Make every Web API method answer after `seconds`, as the real Slack takes time."""
        with urlopen(f"{self.base}{DELAY_PATH}?seconds={seconds}", timeout=10) as response:
            response.read()

    def wait_for_responses(
        self, keys: set[str], timeout: float, since: float = 0.0
    ) -> dict[str, float]:
        """Wait until every key's response URL was posted to (after `since`, a Unix time);
        returns when each was."""
        deadline = time.monotonic() + timeout
        while True:
            responded = self.stats(since)["responded_at"]
            if keys <= responded.keys():
                return {key: responded[key] for key in keys}
            if time.monotonic() > deadline:
                missing = len(keys - responded.keys())
                raise TimeoutError(f"{missing} of {len(keys)} responses never came")
            time.sleep(0.1)

    def wait_for_posts(self, givers: set[str], timeout: float, since: float) -> dict[str, float]:
        """Wait until each giver has a channel post that arrived after `since` (a Unix time);
        returns when the first of each arrived."""
        deadline = time.monotonic() + timeout
        while True:
            posted = self.stats(since)["posted_at"]
            if givers <= posted.keys():
                return {giver: min(posted[giver]) for giver in givers}
            if time.monotonic() > deadline:
                missing = len(givers - posted.keys())
                raise TimeoutError(f"{missing} of {len(givers)} channel posts never came")
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1000, help="people who give (U10000...)")
    args = parser.parse_args()
    _Server.request_queue_size = LISTEN_BACKLOG
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
