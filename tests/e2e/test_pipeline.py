"""The request pipeline as it runs: `advocate run` (HTTP and Socket Mode) and `advocate
worker`, killed, restarted, redelivered to, cut off from their database."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sqlalchemy.engine import make_url

from bot.pipeline import SORRY
from bot.store.db import Database
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.processes import (
    appreciations,
    bot_env,
    running,
    start,
    stored,
    wait_until,
)
from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.slack_requests import SlackClientForTests, slash_command_body
from tests.support.tcp_proxy import TcpProxy


def appreciate(client: SlackClientForTests | None, slack: FakeSlack, key: str) -> bytes:
    assert client is not None
    status, body = client.command(
        command="/appreciate",
        text=f"<@{ANA}> <@{BEN}> for the release notes {key}",
        user_id=GIVER,
        response_url=slack.response_url(key),
    )
    assert status == 200
    return body


def channel_posts(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.messages("C111")]


def replied(slack: FakeSlack) -> list[str]:
    return sorted(post["_key"] for post in slack.response_url_posts())


@pytest.mark.parametrize("shape", ["run", "web and worker"])
def test_acknowledged_commands_survive_a_kill_and_are_done_once_after_a_restart(
    slack: FakeSlack, db: Database, tmp_path: Path, shape: str
) -> None:
    env = bot_env(slack, db)
    keys = [f"k{n}" for n in range(4)]
    # Slack is slow: the work is under way, claimed, when everything is killed.
    slack.set_delay("users.info", 1.5)
    if shape == "run":
        web = worker = start(env, tmp_path, "run", "--http", "--no-scheduler")
    else:
        web = start(env, tmp_path, "run", "--http", "--no-scheduler", "--no-workers")
        worker = start(env, tmp_path, "worker")
    for key in keys:
        appreciate(web.client, slack, key)
    time.sleep(0.7)
    for process in {id(web): web, id(worker): worker}.values():
        process.stop(signal.SIGKILL)
    assert appreciations(db) == 0 and stored(db) == 4

    slack.set_delay("users.info", 0)
    args = ("run", "--http", "--no-scheduler") if shape == "run" else ("worker",)
    with running(env, tmp_path, *args):
        # Taken back at once, not when the dead worker's lease ends (60 s): on this machine a
        # worker killed with its server is a zombie until init reaps it, and dead all the same.
        assert wait_until(lambda: len(channel_posts(slack)) >= 4 and stored(db) == 0, 30)
        time.sleep(1.0)
    assert appreciations(db) == 4
    assert len(channel_posts(slack)) == 4
    assert replied(slack) == keys


def test_the_worker_alone_takes_over_what_a_killed_server_acknowledged(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db)
    web = start(env, tmp_path, "run", "--http", "--no-scheduler", "--no-workers")
    for key in ("a", "b", "c"):
        appreciate(web.client, slack, key)
    web.stop(signal.SIGKILL)
    assert stored(db) == 3 and appreciations(db) == 0
    with running(env, tmp_path, "worker"):
        assert wait_until(lambda: appreciations(db) == 3 and stored(db) == 0)
    assert replied(slack) == ["a", "b", "c"]


def test_an_event_redelivered_to_the_same_or_another_replica_is_worked_once(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db)
    home = {"type": "app_home_opened", "user": GIVER, "tab": "home"}
    with (
        running(env, tmp_path, "run", "--http", "--no-scheduler") as one,
        running(env, tmp_path, "run", "--http", "--no-scheduler") as two,
    ):
        assert one.client is not None and two.client is not None
        assert one.client.event(home, event_id="Ev0ONCE01")[0] == 200
        assert one.client.event(home, event_id="Ev0ONCE01", retry_num=1)[0] == 200
        assert two.client.event(home, event_id="Ev0ONCE01", retry_num=2)[0] == 200
        slack.wait_for("views.publish", 1, timeout=30)
        time.sleep(1.5)
    assert len(slack.calls_to("views.publish")) == 1


def test_a_burst_that_waits_behind_others_still_opens_its_modal_in_time(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db)
    slack.set_delay("users.info", 0.3)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        for n in range(60):
            appreciate(bot.client, slack, f"w{n}")
        assert bot.client is not None
        sent = time.monotonic()
        bot.client.command(command="/appreciate", text="", user_id=GIVER)
        slack.wait_for("views.open", 1, timeout=5)
        opened = time.monotonic() - sent
        assert stored(db) > 20  # the others are still waiting
    assert opened < 1.0


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_database_outage_gets_honest_answers_and_recovery_needs_no_restart(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    url = make_url(db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        env = bot_env(slack, db, DATABASE_URL=proxied)
        with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
            appreciate(bot.client, slack, "before")
            assert wait_until(lambda: appreciations(db) == 1)
            proxy.cut()
            body = appreciate(bot.client, slack, "during")
            assert json.loads(body)["text"] == SORRY
            proxy.restore()
            assert wait_until(lambda: appreciate(bot.client, slack, "after") == b"", 30)
            assert wait_until(lambda: "after" in replied(slack))
        assert appreciations(db) == 2
        assert "during" not in replied(slack)
    finally:
        proxy.stop()


def command_envelope(key: str) -> dict[str, object]:
    """A slash command as Socket Mode delivers it: the same fields, as JSON."""
    body = slash_command_body(
        command="/appreciate",
        text=f"<@{ANA}> for the on-call swap {key}",
        user_id=GIVER,
        response_url=f"placeholder-{key}",
    )
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def test_socket_mode_stores_before_the_ack_and_delivers_after_a_kill_and_reconnects(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    with FakeSocketMode() as socket_mode:
        slack.use_socket_mode(socket_mode)
        env = bot_env(slack, db, SLACK_APP_TOKEN="xapp-1-test")
        slack.set_delay("users.info", 1.5)
        bot = start(env, tmp_path, "run", "--socket", "--no-scheduler")
        socket_mode.wait_connected(1, timeout=30)
        for key in ("s1", "s2", "s3"):
            payload = command_envelope(key)
            payload["response_url"] = slack.response_url(key)
            envelope = socket_mode.send_envelope(
                "slash_commands", payload, accepts_response_payload=True
            )
            socket_mode.wait_ack(envelope, timeout=10)
        time.sleep(0.5)
        bot.stop(signal.SIGKILL)
        assert appreciations(db) == 0 and stored(db) == 3

        slack.set_delay("users.info", 0)
        with running(env, tmp_path, "run", "--socket", "--no-scheduler"):
            socket_mode.wait_connected(2, timeout=30)
            assert wait_until(lambda: appreciations(db) == 3 and stored(db) == 0, 60)
            # Slack rotates connections: the app reconnects and loses nothing.
            socket_mode.send_disconnect()
            socket_mode.wait_connected(3, timeout=30)
            payload = command_envelope("s4")
            payload["response_url"] = slack.response_url("s4")
            envelope = socket_mode.send_envelope(
                "slash_commands", payload, accepts_response_payload=True
            )
            socket_mode.wait_ack(envelope, timeout=10)
            assert wait_until(lambda: appreciations(db) == 4, 30)
            time.sleep(1.0)
    assert len(channel_posts(slack)) == 4
    assert replied(slack) == ["s1", "s2", "s3", "s4"]
