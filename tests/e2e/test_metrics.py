"""Prometheus metrics on METRICS_PORT, scraped from the real processes: `advocate run --http`
(its server and the worker process it forks, one port for both), `advocate run --socket`,
`advocate worker` and `advocate scheduler`. The series move as requests are answered and
worked and as Slack answers, and no label ever carries a person, a workspace or a token."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.store.db import Database
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET, TEAM
from tests.e2e.processes import bot_env, running, stored, wait_until
from tests.e2e.test_cli import advocate
from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.ports import free_port
from tests.support.slack_requests import event_body, slash_command_body

DEPLOY = Path(__file__).parents[2] / "deploy"
HOME = {"type": "app_home_opened", "user": GIVER, "channel": "D111", "tab": "home"}
# Every label the app's series (and prometheus_client's own process series) may carry.
LABEL_NAMES = {"kind", "outcome", "method", "result", "where", "le"} | {
    "generation",
    "implementation",
    "major",
    "minor",
    "patchlevel",
    "version",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Scrape:
    """One answer of GET /metrics, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[sample.name, frozenset(sample.labels.items())] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a series not made yet)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def labels(self) -> set[tuple[str, str]]:
        return {pair for _, labels in self.samples for pair in labels}


def scrape(port: int, timeout: float = 30) -> Scrape:
    """GET /metrics, waiting for the listener to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                assert answer.status == 200
                assert answer.headers["Content-Type"].startswith("text/plain")
                return Scrape(answer.read().decode())
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "metrics never answered"
            time.sleep(0.1)


def scrape_until(port: int, check: Callable[[Scrape], bool], timeout: float = 30) -> Scrape:
    deadline = time.monotonic() + timeout
    while True:
        found = scrape(port)
        if check(found):
            return found
        assert time.monotonic() < deadline, f"the metrics never got there:\n{found.text}"
        time.sleep(0.1)


def assert_no_identity_in_labels(found: Scrape) -> None:
    """Labels are fixed words and method names: no id of a person, channel or workspace,
    no token, no secret."""
    forbidden = (GIVER, ANA, BEN, TEAM, "C111", "D111", "xoxb", "xapp", SIGNING_SECRET)
    for name, value in found.labels():
        assert name in LABEL_NAMES, name
        assert not any(word in value for word in forbidden), (name, value)
        assert re.fullmatch(r"[A-Za-z0-9_.+-]+", value), (name, value)


def assert_dashboard_and_alerts_use_only(found: Scrape) -> None:
    """Every series the dashboard and the alert rules query is one the app serves."""
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {
        "AdvocateBacklogOld",
        "AdvocateOutboxFailing",
        "AdvocateAckSlow",
    }
    expressions += [rule["expr"] for rule in alerts]
    used = {name for expr in expressions for name in re.findall(r"\badvocate_\w+", expr)}
    assert used and used <= found.names(), used - found.names()


def command(client: Any, slack: FakeSlack, text: str, key: str) -> None:
    status, _ = client.command(
        command="/appreciate", text=text, user_id=GIVER, response_url=slack.response_url(key)
    )
    assert status == 200


def replied(slack: FakeSlack, key: str) -> bool:
    return bool(slack.response_url_posts(key))


def test_run_over_http_serves_what_its_server_and_its_worker_process_count(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(slack, db, METRICS_PORT=str(port))
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        before = scrape(port)
        assert before.value("advocate_requests_waiting") == 0

        # Work that waits on Slack: the backlog shows while it is in hand.
        slack.set_delay("users.info", 1.5)
        command(bot.client, slack, f"<@{ANA}> for the release notes", "slow")
        waiting = scrape_until(port, lambda s: s.value("advocate_requests_waiting") >= 1)
        assert waiting.value("advocate_requests_oldest_waiting_seconds") > 0
        assert wait_until(lambda: replied(slack, "slow"))
        slack.set_delay("users.info", 0)

        # A post Slack refuses with a 5xx stays in the outbox (no scheduler here to retry it).
        slack.fail_next("chat.postMessage", status=500)
        command(bot.client, slack, f"<@{BEN}> for the review", "refused")
        assert bot.client.event(HOME, event_id="Ev0METRICS1")[0] == 200
        assert bot.client.event(HOME, event_id="Ev0METRICS1", retry_num=1)[0] == 200
        assert wait_until(lambda: replied(slack, "refused") and stored(db) == 0)
        after = scrape_until(
            port,
            lambda s: (
                s.value("advocate_requests_worked_total", kind="event", outcome="done") >= 1
                and s.value("advocate_outbox_waiting") >= 1
            ),
        )

        not_found = urllib.request.Request(f"http://127.0.0.1:{port}/other")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(not_found, timeout=5)
        assert answer.value.code == 404
        output = bot.stop()

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    # At the ack, in the server.
    assert moved("advocate_requests_received_total", kind="command", outcome="stored") == 2
    assert moved("advocate_requests_received_total", kind="event", outcome="stored") == 1
    assert moved("advocate_requests_received_total", kind="event", outcome="duplicate") == 1
    assert moved("advocate_ack_seconds_count", kind="command") == 2
    assert moved("advocate_ack_seconds_count", kind="event") == 2
    assert after.value("advocate_ack_seconds_bucket", kind="command", le="3.0") == 2
    # In the worker process, on the same port.
    assert moved("advocate_requests_worked_total", kind="command", outcome="done") == 2
    assert moved("advocate_requests_worked_total", kind="event", outcome="done") == 1
    assert moved("advocate_request_work_seconds_count", kind="command") == 2
    assert moved("advocate_slack_api_calls_total", method="users.info", result="ok") >= 2
    assert moved("advocate_slack_api_calls_total", method="views.publish", result="ok") == 1
    assert moved("advocate_slack_api_calls_total", method="chat.postMessage", result="ok") >= 1
    assert (
        moved("advocate_slack_api_calls_total", method="chat.postMessage", result="server_error")
        == 1
    )
    assert moved("advocate_outbox_sends_total", result="sent") >= 1
    assert moved("advocate_outbox_sends_total", result="retry") == 1
    # Read from the database at the scrape.
    assert after.value("advocate_requests_waiting") == 0
    assert after.value("advocate_requests_oldest_waiting_seconds") == 0
    assert after.value("advocate_outbox_waiting") == 1
    assert after.value("advocate_outbox_failing") == 1
    assert after.value("advocate_outbox_oldest_waiting_seconds") > 0
    assert after.value("advocate_database_errors_total", where="store") == 0

    assert_no_identity_in_labels(after)
    assert_dashboard_and_alerts_use_only(after)
    assert "serving metrics on port" in output and "Traceback" not in output


def test_run_in_socket_mode_serves_its_metrics(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    with FakeSocketMode() as socket_mode:
        slack.use_socket_mode(socket_mode)
        env = bot_env(slack, db, SLACK_APP_TOKEN="xapp-1-test", METRICS_PORT=str(port))
        with running(env, tmp_path, "run", "--socket", "--no-scheduler") as bot:
            socket_mode.wait_connected(1, timeout=30)
            before = scrape(port)
            body = slash_command_body(
                command="/appreciate",
                text=f"<@{ANA}> for the launch",
                user_id=GIVER,
                response_url=slack.response_url("socket"),
            ).decode()
            command_payload = dict(parse_qsl(body, keep_blank_values=True))
            envelope = socket_mode.send_envelope(
                "slash_commands", command_payload, accepts_response_payload=True
            )
            socket_mode.wait_ack(envelope, timeout=3)
            event = json.loads(event_body(HOME))
            socket_mode.wait_ack(socket_mode.send_envelope("events_api", event), timeout=3)
            assert wait_until(lambda: replied(slack, "socket") and stored(db) == 0)
            after = scrape_until(
                port,
                lambda s: (
                    s.value("advocate_requests_worked_total", kind="event", outcome="done") >= 1
                ),
            )
            output = bot.stop()

    for kind in ("command", "event"):
        for name, outcome in (
            ("advocate_requests_received_total", "stored"),
            ("advocate_requests_worked_total", "done"),
        ):
            labels = {"kind": kind, "outcome": outcome}
            assert after.value(name, **labels) - before.value(name, **labels) == 1
        assert after.value("advocate_ack_seconds_count", kind=kind) == 1
    calls = after.value("advocate_slack_api_calls_total", method="users.info", result="ok")
    assert calls >= 1
    assert after.value("advocate_requests_waiting") == 0
    # One process: its own registry, with the usual process series.
    assert "process_cpu_seconds_total" in after.names()
    assert_no_identity_in_labels(after)
    assert "Traceback" not in output


def test_a_worker_serves_what_it_worked(slack: FakeSlack, db: Database, tmp_path: Path) -> None:
    # A replica that only stores, then a worker that works what it stored.
    with running(
        bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler", "--no-workers"
    ) as web:
        assert web.client is not None
        command(web.client, slack, f"<@{ANA}> for the fix", "stored")
        assert stored(db) == 1
        web.stop()
    port = free_port()
    with running(bot_env(slack, db, METRICS_PORT=str(port)), tmp_path, "worker") as worker:
        found = scrape_until(
            port,
            lambda s: (
                s.value("advocate_requests_worked_total", kind="command", outcome="done") == 1
            ),
        )
        output = worker.stop()
    assert found.value("advocate_slack_api_calls_total", method="users.info", result="ok") >= 1
    assert found.value("advocate_outbox_sends_total", result="sent") >= 1
    assert found.value("advocate_requests_received_total", kind="command", outcome="stored") == 0
    assert replied(slack, "stored")
    assert_no_identity_in_labels(found)
    assert "Traceback" not in output


def test_the_scheduler_serves_its_series(slack: FakeSlack, db: Database, tmp_path: Path) -> None:
    port = free_port()
    env = bot_env(slack, db, METRICS_PORT=str(port))
    with running(env, tmp_path, "scheduler") as scheduler:
        found = scrape(port)
        output = scheduler.stop()
    # Before its first tick (15 s after the start) the tick's histograms are there, empty.
    assert {
        "advocate_scheduler_tick_seconds_count",
        "advocate_scheduler_tick_lag_seconds_count",
        "advocate_outbox_waiting",
        "advocate_requests_waiting",
    } <= found.names()
    assert found.value("advocate_slack_api_calls_total", method="auth.test", result="ok") == 1
    assert_no_identity_in_labels(found)
    assert "Traceback" not in output


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_metrics_port_must_differ_from_the_http_port(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db, PORT="3999", METRICS_PORT="3999")
    result = advocate("run", "--http", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "advocate: METRICS_PORT must differ from the HTTP port (PORT or --port)."
    ]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_malformed_metrics_port_or_log_format_is_one_clear_line(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    for name, value, says in (
        ("METRICS_PORT", "metrics", "METRICS_PORT must be a whole number, got 'metrics'."),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json, got 'xml'."),
    ):
        result = advocate("worker", env=bot_env(slack, db, **{name: value}), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [f"advocate: {says}"]
