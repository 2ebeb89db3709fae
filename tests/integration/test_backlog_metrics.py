"""The gauges read from the database at each scrape: what waits, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bot.domain import TokenOwner, Workspace
from bot.metrics import Backlog
from bot.slack.outbox import served_messages
from bot.store.db import Database
from bot.store.models import OutboxMessage, SlackRequest

SERVED = Workspace("T111")
OTHER = Workspace("T999")


def gauges(backlog: Backlog) -> dict[str, float]:
    return {m.name: m.samples[0].value for m in backlog.collect()}


def message(
    workspace: Workspace, key: str, created_at: datetime, **changes: object
) -> dict[str, object]:
    row: dict[str, object] = {
        "team_id": workspace.team_id,
        "dedupe_key": key,
        "kind": "dm",
        "channel_id": "D1",
        "user_id": "U1",
        "payload": {},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created_at,
        "created_at": created_at,
    }
    return {**row, **changes}


def request(key: str, status: str, received_at: datetime) -> dict[str, object]:
    return {
        "key": key,
        "team_id": SERVED.team_id,
        "kind": "command",
        "mode": "http",
        "body": "",
        "headers": {},
        "fast": False,
        "status": status,
        "attempts": 0,
        "next_attempt_at": received_at,
        "received_at": received_at,
    }


def test_the_backlog_counts_what_waits_and_how_long_the_oldest_has(db: Database) -> None:
    now = datetime.now(UTC)
    owner = TokenOwner(team_id=SERVED.team_id, enterprise_id=None, name="", org_wide=False)
    backlog = Backlog(db, lambda: served_messages(owner))
    assert gauges(backlog) == {
        "advocate_requests_waiting": 0,
        "advocate_requests_oldest_waiting_seconds": 0,
        "advocate_outbox_waiting": 0,
        "advocate_outbox_failing": 0,
        "advocate_outbox_oldest_waiting_seconds": 0,
    }
    hour = timedelta(hours=1)
    messages = [
        message(SERVED, "m-new", now - timedelta(seconds=5)),
        message(SERVED, "m-old", now - 2 * hour, last_error="ratelimited"),
        message(SERVED, "m-sent", now - 3 * hour, status="sent"),
        # Never sent with this token: not the operator's backlog.
        message(OTHER, "m-other", now - 9 * hour),
    ]
    with db.transaction() as session:
        session.execute(insert(OutboxMessage), messages)
        session.execute(
            insert(SlackRequest),
            [
                request("r-new", "pending", now - timedelta(seconds=1)),
                request("r-old", "pending", now - timedelta(seconds=90)),
                request("r-done", "done", now - hour),
                request("r-parked", "parked", now - hour),
            ],
        )
    found = gauges(backlog)
    assert found["advocate_requests_waiting"] == 2
    assert 90 <= found["advocate_requests_oldest_waiting_seconds"] < 100
    assert found["advocate_outbox_waiting"] == 2
    assert found["advocate_outbox_failing"] == 1
    assert 7200 <= found["advocate_outbox_oldest_waiting_seconds"] < 7210
    # OAuth mode (no token owner): every workspace's messages.
    assert gauges(Backlog(db, lambda: served_messages(None)))["advocate_outbox_waiting"] == 3


def test_a_database_that_does_not_answer_leaves_the_gauges_out() -> None:
    backlog = Backlog(Database("sqlite:////nonexistent/dir/advocate.db"), lambda: [])
    assert list(backlog.collect()) == []
