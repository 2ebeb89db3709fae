"""LOG_FORMAT=json through the real process: every line `advocate run --http` and its worker
process print is one JSON object, and a request's id is on its ack, on its work in the
other process, and on the Web API calls that work makes; tokens stay redacted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.store.db import Database
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET, TEAM
from tests.e2e.processes import bot_env, stored, wait_until
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving
from tests.support.slack_requests import SlackClientForTests, block_actions_payload

LEAKED = "xoxb-4242-leaked"
FIELDS = {"time", "level", "logger", "message", "process", "thread"}


@contextmanager
def logging_to(
    path: Path, env: dict[str, str], cwd: Path
) -> Iterator[tuple[subprocess.Popen[bytes], SlackClientForTests]]:
    """`advocate run --http --no-scheduler` with its output in a file: at DEBUG it fills a
    pipe nobody reads before the end, and then every thread that logs waits."""
    port = free_port()
    with path.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--no-scheduler", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process)
        yield process, SlackClientForTests(url, SIGNING_SECRET)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def about(entries: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("request_id") == request_id]


def ack_of(entries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    (ack,) = [e for e in entries if e["message"] == f"stored {key}; acknowledging it"]
    return ack


def test_every_line_is_json_and_a_request_id_follows_the_request(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    log_file = tmp_path / "advocate.log"
    with logging_to(log_file, env, tmp_path) as (bot, client):

        def command(name: str, text: str, trigger: str) -> None:
            status, _ = client.command(
                command=name,
                text=text,
                user_id=GIVER,
                trigger_id=trigger,
                response_url=slack.response_url(trigger),
            )
            assert status == 200
            assert wait_until(lambda: slack.response_url_posts(trigger), 20)

        # The first attempt fails on Slack's side and is retried: its warning says which.
        slack.fail_next("users.info", status=500)
        command("/appreciate", f"<@{ANA}> <@{BEN}> for the launch", "1.1.thanks")
        command("/appreciate", "help", "1.2.help")
        # The process runs on the real clock: the due date is always ahead of it.
        due = datetime.now(UTC).date() + timedelta(days=10)
        command("/ask", f"<@{ANA}> review the renewal quote by {due:%b} {due.day}", "1.3.ask")
        click = block_actions_payload(
            action_id="ask_commit",
            value="1",
            user_id=ANA,
            message_ts="1700000000.000100",
            response_url=slack.response_url("click"),
        )
        assert client.interactive(click)[0] == 200
        slack.wait_for("views.open", timeout=20)
        # An answer that holds a token, which slack_sdk logs at DEBUG.
        slack.set_response("views.publish", {"ok": True, "echo": LEAKED})
        home = {"type": "app_home_opened", "user": GIVER, "channel": "D111", "tab": "home"}
        assert client.event(home, event_id="Ev0JSON1")[0] == 200
        slack.wait_for("views.publish", timeout=20)
        assert wait_until(lambda: stored(db) == 0, 20)
        server = bot.pid
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=60) in (0, 130)
    output = log_file.read_text()

    entries = []
    for number, line in enumerate(output.splitlines(), 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from None
        assert isinstance(entry, dict) and entry.keys() >= FIELDS, line
        entries.append(entry)
    assert len(entries) > 50  # DEBUG: Bolt's, slack_sdk's and the app's own lines
    assert {e["process"] for e in entries} > {server}, "the worker process logged too"

    # The command: acknowledged by the server, worked by the worker process, with the same
    # id on the ack, the failed attempt, the retry's Web API calls and its end.
    ack = ack_of(entries, "command:1.1.thanks")
    assert ack["process"] == server
    assert (ack["workspace"], ack["kind"]) == (TEAM, "command")
    work = [e for e in about(entries, ack["request_id"]) if e["process"] != server]
    messages = [e["message"] for e in work]
    assert any("failed (attempt 1), retrying" in m for m in messages), messages
    assert "Web API users.info: server_error" in messages
    assert "Web API users.info: ok" in messages
    assert "Web API chat.postMessage: ok" in messages  # the outbox, sent from the work
    assert "command:1.1.thanks: done" in " ".join(messages)
    assert {(e["workspace"], e["kind"]) for e in work} == {(TEAM, "command")}

    # The button and the event likewise, each with an id of its own.
    ids = {ack["request_id"]}
    for key_start, kind, method in (
        ("action:1700000000.000100:ask_commit:", "action", "views.open"),
        ("event:Ev0JSON1", "event", "views.publish"),
    ):
        (key,) = {
            e["message"].split()[1].rstrip(";")
            for e in entries
            if e["message"].startswith(f"stored {key_start}")
        }
        acked = ack_of(entries, key)
        assert acked["kind"] == kind and acked["process"] == server
        worked = [e["message"] for e in about(entries, acked["request_id"])]
        assert f"Web API {method}: ok" in worked, worked
        assert any(m.startswith(f"{key}: done in") for m in worked), worked
        ids.add(acked["request_id"])
    assert len(ids) == 3

    # Lines about no request carry no request fields.
    startup = next(e for e in entries if e["message"].startswith("serving HTTP on port"))
    assert not {"request_id", "workspace", "kind"} & startup.keys()
    assert "xoxb-test" not in output and SIGNING_SECRET not in output
    assert LEAKED not in output
    assert any("xox…(redacted)" in e["message"] for e in entries)
    assert not any(e["level"] == "ERROR" for e in entries), [
        e for e in entries if e["level"] == "ERROR"
    ]
