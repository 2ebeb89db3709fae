"""Senders are fenced by their claims, through real `advocate tick` processes: a long
Retry-After is never slept past a lease, a tick with a past `--now` writes leases on the real
clock, and a sender that lost its claim neither posts nor marks."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, workspaces
from bot.store.db import Database
from bot.store.models import OutboxMessage
from tests.conftest import ANA, GIVER, MovableClock
from tests.e2e.processes import bot_env
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")


def appreciated(db: Database, now: datetime, key: str = "k1") -> None:
    workspaces.ensure(db, WS, "Acme", now)
    draft = appreciation.Draft(GIVER, [ANA], "for the fix", channel_id="C111", source_key=key)
    appreciation.record(db, WS, draft, PersonInfo(GIVER), now, daily_limit=10)


def rows(db: Database) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def tick(env: dict[str, str], cwd: Path, *now: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "bot", "tick", *(("--now", now[0]) if now else ())]
    return subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_a_long_retry_after_is_tried_again_later_never_slept_past_the_lease(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    appreciated(db, datetime.now(UTC))
    env = bot_env(slack, db)
    # Longer than a lease: a sender that slept it out would post after losing its claim.
    slack.fail_next("chat.postMessage", status=429, retry_after=90)

    started = time.monotonic()
    first, second = tick(env, tmp_path), tick(env, tmp_path)
    assert first.wait(timeout=60) == 0 and second.wait(timeout=60) == 0
    assert time.monotonic() - started < 30

    post = next(r for r in rows(db) if r.kind == "channel_post")
    assert post.status == "pending" and post.claimed_until is None
    assert post.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=60)
    assert post.last_error == "ratelimited"
    # Once the wait is over (moved here, not slept), the next tick posts it, once.
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert tick(env, tmp_path).wait(timeout=60) == 0
    assert len(slack.messages("C111")) == 1
    assert {r.status for r in rows(db)} == {"sent"}


def test_a_past_now_writes_leases_that_hold_so_a_running_tick_sends_nothing_twice(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for n in range(4):
        appreciated(db, now - timedelta(hours=2), key=f"k{n}")
    env = bot_env(slack, db)
    slack.set_delay("chat.postMessage", 0.5)

    catching_up = tick(env, tmp_path, (now - timedelta(hours=1)).isoformat())
    slack.wait_for("chat.postMessage", 1, timeout=30)
    # Meanwhile the scheduler's own tick, on the real clock.
    current = tick(env, tmp_path)
    assert catching_up.wait(timeout=60) == 0 and current.wait(timeout=60) == 0

    texts = [m["text"] for m in slack.messages("C111")]
    assert len(texts) == 4, texts
    assert [len(slack.messages(ANA))] == [4]


def test_a_sender_that_lost_its_claim_neither_posts_nor_marks(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    appreciated(runtime.db, clock())
    post = next(r for r in rows(runtime.db) if r.kind == "channel_post")
    first = runtime.sender
    claim = first._claim([post.id])
    # Its process stalls past its lease; another sender takes the message over.
    clock.now += timedelta(seconds=61)
    [taken] = runtime.sender.deliver([post.id])
    assert taken.status == "sent"

    [late] = first._send([post.id], claim)

    assert late.status == "pending" and late.error == "claim_lost"
    assert len(slack.messages("C111")) == 1
    [row] = [r for r in rows(runtime.db) if r.id == post.id]
    assert row.status == "sent" and row.sent_ts == slack.messages("C111")[0]["ts"]
