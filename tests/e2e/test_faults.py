"""Faults: Slack failing on each method the app uses, the database going away, processes
killed mid-work. Each message still goes out once, or the person is told."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from bot.domain import PersonInfo, Workspace
from bot.jobs.tick import tick
from bot.pipeline import SORRY
from bot.runtime import Runtime
from bot.services import appreciation, workspaces
from bot.services.people import mark_used
from bot.slack import people
from bot.store.db import Database
from bot.store.models import Appreciation, OutboxMessage
from tests.conftest import ANA, GIVER, AppServer, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.tcp_proxy import TcpProxy

WS = Workspace("T111")


def appreciate(server: AppServer, slack: FakeSlack, key: str = "r") -> str:
    """What the person is told: in the acknowledgement itself, or later."""
    _, body = server.client.command(
        command="/appreciate",
        text=f"<@{ANA}> for the fix",
        user_id=GIVER,
        response_url=slack.response_url(key),
    )
    if body:
        return str(json.loads(body)["text"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        said = [p["text"] for p in slack.response_url_posts(key)]
        said += [c.params.get("text", "") for c in slack.calls_to("chat.postEphemeral")]
        if said:
            return said[-1]
        time.sleep(0.05)
    raise AssertionError("the person was never told anything")


def settle(server: AppServer, minutes: int = 2) -> None:
    """Let the scheduled retries run, as the scheduler would over a few minutes."""
    clock = server.runtime.clock
    for _ in range(6):
        clock.now += timedelta(minutes=minutes)  # type: ignore[attr-defined]
        tick(server.runtime)


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


FAULTS = ["429", "500", "503", "drop", "drop-after"]


def inject(slack: FakeSlack, method: str, fault: str) -> None:
    if fault == "429":
        slack.fail_next(method, status=429, retry_after=1)
    elif fault in ("500", "503"):
        slack.fail_next(method, status=int(fault))
    else:
        slack.drop_next(method, after_processing=fault == "drop-after")


# Opening a DM twice is harmless, so conversations.open needs no "dropped after it worked".
DELIVERY_FAULTS = [("chat.postMessage", f) for f in FAULTS] + [
    ("conversations.open", f) for f in FAULTS if f != "drop-after"
]


@pytest.mark.parametrize(("method", "fault"), DELIVERY_FAULTS)
def test_delivery_faults_end_in_exactly_one_message(
    server: AppServer, slack: FakeSlack, method: str, fault: str
) -> None:
    if method == "conversations.open":
        # A first DM needs no open; a re-attempt does, to search the DM for the first try:
        # the posts land, their answers are lost, then opening the DM fails.
        slack.drop_next("chat.postMessage", after_processing=True, times=2)
    inject(slack, method, fault)

    told = appreciate(server, slack)
    settle(server)
    if method == "conversations.open":
        assert len(slack.calls_to("conversations.open")) >= 2

    assert "recorded" in told
    assert count(server.runtime.db, Appreciation) == 1
    assert len(slack.messages("C111")) == 1
    assert len(slack.messages(ANA)) == 1
    with server.runtime.db.transaction() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
def test_a_failing_people_lookup_is_retried_and_recorded_once(
    server: AppServer, slack: FakeSlack, fault: str
) -> None:
    inject(slack, "users.info", fault)
    assert "recorded" in appreciate(server, slack)
    settle(server)
    assert count(server.runtime.db, Appreciation) == 1
    assert len(slack.messages("C111")) == 1


def test_rate_limited_people_lookup_waits_and_succeeds(server: AppServer, slack: FakeSlack) -> None:
    inject(slack, "users.info", "429")
    assert "recorded" in appreciate(server, slack)
    assert count(server.runtime.db, Appreciation) == 1


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_failing_modal_open_is_tried_again_while_its_trigger_lives(
    server: AppServer, slack: FakeSlack, fault: str
) -> None:
    inject(slack, "views.open", fault)
    server.client.command(
        command="/appreciate", text="", user_id=GIVER, response_url=slack.response_url()
    )
    slack.wait_for("views.open", 2, timeout=15)
    settle(server)
    assert slack.response_url_posts() == []


def test_a_modal_whose_trigger_expired_while_failing_is_an_apology(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.fail_next("views.open", status=500, times=100)
    server.client.command(
        command="/appreciate", text="", user_id=GIVER, response_url=slack.response_url()
    )
    slack.wait_for("response_url", timeout=15)
    assert slack.response_url_posts()[0]["text"].startswith("Sorry")


def test_failing_response_url_still_tells_the_person(server: AppServer, slack: FakeSlack) -> None:
    slack.fail_next("response_url", status=500)
    assert "recorded" in appreciate(server, slack)


@pytest.fixture
def proxied(settings, clock: MovableClock, db: Database) -> Iterator[tuple[AppServer, TcpProxy]]:
    url = urlsplit(db.url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432).start()
    through = db.url.replace(f"{url.hostname}:{url.port}", f"127.0.0.1:{proxy.port}")
    runtime = Runtime.create(
        replace(settings, database_url=through), db=Database(through, pool_size=4), clock=clock
    )
    server = AppServer(runtime)
    yield server, proxy
    server.close()
    proxy.stop()
    runtime.db.dispose()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_database_outage_gets_honest_answers_then_recovers_without_a_restart(
    proxied: tuple[AppServer, TcpProxy], slack: FakeSlack
) -> None:
    server, proxy = proxied
    assert "recorded" in appreciate(server, slack, "before")

    slack.fail_next("chat.postMessage", status=503)  # one message is left in the outbox
    appreciate(server, slack, "pending")
    proxy.cut()
    status, _ = server.client.get("/healthz")
    assert status == 503
    assert appreciate(server, slack, "during") == SORRY

    proxy.restore()
    status, _ = server.client.get("/healthz")
    assert status == 200
    assert "recorded" in appreciate(server, slack, "after")
    settle(server)
    assert count(server.runtime.db, Appreciation) == 3
    assert len(slack.messages("C111")) == 3  # the pending one was not lost


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_sqlite_under_concurrent_writers_never_says_locked(runtime: Runtime) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(20):
                draft = appreciation.Draft(GIVER, [ANA], "busy", source_key=f"w{n}-{k}")
                appreciation.record(
                    runtime.db, WS, draft, PersonInfo(GIVER), runtime.clock(), daily_limit=1000
                )
        except BaseException as error:  # recorded for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(runtime.db, Appreciation) == 160


# ---------------------------------------------------------------- killed mid-work


def tick_process(
    runtime: Runtime, slack: FakeSlack, cwd: Path, now: datetime, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "tick", "--now", now.isoformat()],
        env=clean_env(
            SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.url, DATABASE_URL=runtime.db.url, **env
        ),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_while_posting(process: subprocess.Popen[str], slack: FakeSlack, posts: int) -> None:
    slack.wait_for("chat.postMessage", posts, timeout=30)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def leases_run_out(runtime: Runtime) -> None:
    """As a minute of the real clock would: the killed process's leases end (they are
    written on the real clock, whatever `tick --now` says)."""
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_until.is_not(None))
            .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
        )


def finish(runtime: Runtime, slack: FakeSlack, cwd: Path, now: datetime, **env: str) -> None:
    slack.set_delay("chat.postMessage", 0)
    leases_run_out(runtime)
    for minutes in (2, 4, 6):
        done = tick_process(runtime, slack, cwd, now + timedelta(minutes=minutes), **env)
        _out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err


def test_killed_during_an_outbox_delivery_nothing_lost_nothing_doubled(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock, tmp_path: Path
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    draft = appreciation.Draft(GIVER, [ANA], "for the fix", channel_id="C111", source_key="k")
    appreciation.record(runtime.db, WS, draft, PersonInfo(GIVER), clock(), daily_limit=10)
    slack.set_delay("chat.postMessage", 30)

    process = tick_process(runtime, slack, tmp_path, clock())
    kill_while_posting(process, slack, 1)  # posted, never marked as sent
    finish(runtime, slack, tmp_path, clock())

    assert len(slack.messages("C111")) == 1 and len(slack.messages(ANA)) == 1


def test_killed_during_the_digest_it_is_posted_once(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock, tmp_path: Path
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    draft = appreciation.Draft(GIVER, [ANA], "for the fix", source_key="k")
    appreciation.record(
        runtime.db, WS, draft, PersonInfo(GIVER), datetime(2026, 11, 24, tzinfo=UTC), daily_limit=10
    )
    env = {"ADVOCATE_DIGEST_CHANNEL": "C111"}
    friday = datetime(2026, 11, 27, 16, 1, tzinfo=UTC)
    clock.now = friday  # Slack's message timestamps follow the same clock as --now
    slack.set_delay("chat.postMessage", 30)

    kill_while_posting(tick_process(runtime, slack, tmp_path, friday, **env), slack, 1)
    finish(runtime, slack, tmp_path, friday, **env)

    digests = [m for m in slack.messages("C111") if "internal advocates" in m["text"]]
    assert len(digests) == 1


def test_killed_during_the_checkin_fanout_nobody_is_skipped_or_asked_twice(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock, tmp_path: Path
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    team = [f"U9{n:03d}" for n in range(30)]
    for user_id in team:
        slack.add_user(user_id, tz="Europe/Paris")
    people.remember(runtime.db, WS, [PersonInfo(u, tz="Europe/Paris") for u in team], clock())
    mark_used(runtime.db, WS, team, clock())
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    clock.now = monday  # Slack's message timestamps follow the same clock as --now
    slack.set_delay("chat.postMessage", 0.3)

    kill_while_posting(tick_process(runtime, slack, tmp_path, monday), slack, 8)
    finish(runtime, slack, tmp_path, monday)

    for user_id in team:
        sent = [m for m in slack.messages(user_id) if "weekly check-in" in m["text"]]
        assert len(sent) == 1, user_id
