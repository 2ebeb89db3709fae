"""Shared checks for end-to-end tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import Appreciation, OutboxMessage
from tests.support.blockkit import assert_valid_message_blocks
from tests.support.fake_slack import Call, FakeSlack


def appreciation_count(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count(Appreciation.id))) or 0


def only_appreciation(db: Database) -> Appreciation:
    with db.transaction() as session:
        rows = list(session.scalars(select(Appreciation)))
    assert len(rows) == 1, f"expected one appreciation, found {len(rows)}"
    return rows[0]


def outbox_statuses(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {m.dedupe_key: m.status for m in session.scalars(select(OutboxMessage))}


def posts(slack: FakeSlack) -> list[Call]:
    """chat.postMessage calls, each checked against the Block Kit schema."""
    calls = slack.calls_to("chat.postMessage")
    for call in calls:
        if call.params.get("blocks"):
            assert_valid_message_blocks(call.params["blocks"])
    return calls


def replies(slack: FakeSlack, key: str = "default") -> list[str]:
    """What was said to the person through the command's response_url."""
    return [p.get("text", "") for p in slack.response_url_posts(key)]


def wait_reply(slack: FakeSlack, key: str = "default", count: int = 1) -> str:
    slack.wait_for("response_url", count)
    found = replies(slack, key)
    assert len(found) >= count, found
    return found[count - 1]


def block_text(params: dict[str, Any]) -> str:
    """All text in a posted message's blocks, for assertions on what people see."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                out.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(params.get("blocks") or [])
    return "\n".join(out)
