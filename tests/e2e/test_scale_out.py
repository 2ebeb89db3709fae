"""Two HTTP processes, two workers and two schedulers against one PostgreSQL, as
docker-compose.yml runs them: every request is answered once, every digest and check-in is
sent once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml  # type: ignore[import-untyped]

from bot.config import WEEKDAYS
from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, workspaces
from bot.services.people import mark_used
from bot.slack import people
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.slack_requests import SlackClientForTests

WS = Workspace("T111")
ROOT = Path(__file__).resolve().parents[2]


def compose_services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def test_compose_file_runs_http_replicas_without_scheduler_and_one_scheduler() -> None:
    services = compose_services()
    assert services["web"]["command"] == ["run", "--http", "--no-scheduler", "--no-workers"]
    assert services["worker"]["command"] == ["worker"]
    assert services["scheduler"]["command"] == ["scheduler"]
    assert services["migrate"]["command"] == ["migrate"]
    assert "postgres" in services["db"]["image"]


def test_compose_workers_share_the_image_and_database_and_start_after_migrate() -> None:
    services = compose_services()
    database_url = services["web"]["environment"]["DATABASE_URL"]
    assert database_url.startswith("postgresql+psycopg://") and "@db/" in database_url
    for name in ("migrate", "web", "worker", "scheduler"):
        assert services[name]["build"] == ".", name
        assert services[name]["environment"]["DATABASE_URL"] == database_url, name
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }, name
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_compose_services_serve_metrics_and_are_health_checked() -> None:
    services = compose_services()
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["healthcheck"] == {"disable": True}  # a one-off
    # Workers and the scheduler serve no HTTP but their metrics.
    checked_at = {
        "web": "http://127.0.0.1:3000/healthz",
        "worker": "http://127.0.0.1:9100/metrics",
        "scheduler": "http://127.0.0.1:9100/metrics",
    }
    for name, url in checked_at.items():
        service = services[name]
        assert service["environment"]["METRICS_PORT"] == "9100", name
        assert service["expose"] == ["9100"], name
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD" and url in " ".join(test), name


@pytest.fixture
def fleet(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock, tmp_path: Path
) -> Iterator[list[str]]:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    for user_id in (GIVER, ANA, BEN):  # the schedulers re-read timezones from Slack
        slack.add_user(user_id, tz="Europe/Paris")
    people.remember(
        runtime.db, WS, [PersonInfo(u, tz="Europe/Paris") for u in (GIVER, ANA, BEN)], clock()
    )
    mark_used(runtime.db, WS, [GIVER, ANA, BEN], clock())
    # The processes run on the real clock: make the digest and the check-ins due now, and
    # let Slack's message timestamps follow the same clock.
    slack.clock = time.time
    now = datetime.now(UTC)
    # From Ben: Gloria's ten below are all the daily limit lets her give. Given an hour ago,
    # it is in the digest due five minutes ago, which covers the seven days up to then.
    draft = appreciation.Draft(BEN, [ANA], "for the audit", source_key="seed")
    given = now - timedelta(hours=1)
    appreciation.record(runtime.db, WS, draft, PersonInfo(BEN), given, daily_limit=10)
    due = (now - timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Paris"))
    day, hhmm = WEEKDAYS[due.weekday()], f"{due:%H:%M}"
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        DATABASE_URL=runtime.db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
        ADVOCATE_TIMEZONE="Europe/Paris",
        ADVOCATE_DIGEST_DAY=day,
        ADVOCATE_DIGEST_TIME=hhmm,
        ADVOCATE_CHECKIN_DAY=day,
        ADVOCATE_CHECKIN_TIME=hhmm,
    )
    urls, processes = [], []
    for _ in range(2):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    "--http",
                    "--no-scheduler",
                    "--no-workers",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for command in ("scheduler", "scheduler", "worker", "worker"):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot", command],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    # Six processes start at once: on a busy machine that takes a while.
    deadline = time.monotonic() + 90
    for url in urls:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
    yield urls
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_two_app_processes_two_workers_and_two_schedulers_do_everything_once(
    fleet: list[str], slack: FakeSlack
) -> None:
    # Requests spread over both replicas, each answered once.
    for n in range(10):
        client = SlackClientForTests(fleet[n % 2], SIGNING_SECRET)
        status, _ = client.command(
            command="/appreciate",
            text=f"<@{BEN}> for help #{n}",
            user_id=GIVER,
            response_url=slack.response_url(f"r{n}"),
        )
        assert status == 200
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(slack.response_url_posts()) < 10:
        time.sleep(0.1)
    assert sorted(p["_key"] for p in slack.response_url_posts()) == sorted(
        f"r{n}" for n in range(10)
    )

    def digests() -> list[dict]:
        return [m for m in slack.messages("C111") if "internal advocates" in m["text"]]

    def checkins(user_id: str) -> list[dict]:
        return [m for m in slack.messages(user_id) if "weekly check-in" in m["text"]]

    # Both schedulers tick every 15 seconds; wait for the work, then for more ticks.
    def appreciations() -> list[dict]:
        return [m for m in slack.messages("C111") if "appreciates" in m["text"]]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not (
        digests() and all(checkins(u) for u in (GIVER, ANA, BEN)) and len(appreciations()) >= 10
    ):
        time.sleep(0.5)
    time.sleep(16)
    assert len(digests()) == 1
    for user_id in (GIVER, ANA, BEN):
        assert len(checkins(user_id)) == 1, json.dumps(checkins(user_id))[:500]
    assert len(appreciations()) == 10
