"""A stored request's replies are made once across its runs (bot/replies.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot import replies
from bot.store.db import Database
from bot.store.models import SlackRequest


def a_request(db: Database) -> int:
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = SlackRequest(
            key="command:T1",
            team_id="T111",
            kind="command",
            mode="http",
            body="",
            headers={},
            next_attempt_at=now,
            received_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def said(db: Database, request_id: int) -> int:
    with db.transaction() as session:
        return session.scalar(select(SlackRequest.replies).where(SlackRequest.id == request_id))


def test_a_run_after_a_crash_skips_the_replies_made_and_makes_the_rest(db: Database) -> None:
    request_id = a_request(db)
    made: list[str] = []
    with replies.counted(db, request_id, said(db, request_id)):
        replies.once(lambda: made.append("recorded"))
    # The process died here; the next run says everything again, in the same order.
    with replies.counted(db, request_id, said(db, request_id)):
        replies.once(lambda: made.append("recorded"))
        replies.once(lambda: made.append("posted"))
    assert made == ["recorded", "posted"] and said(db, request_id) == 2


def test_a_reply_that_failed_is_made_by_the_next_attempt(db: Database) -> None:
    request_id = a_request(db)
    made: list[str] = []

    def unreachable() -> None:
        raise OSError("connection refused")

    with pytest.raises(OSError), replies.counted(db, request_id, said(db, request_id)):
        replies.once(unreachable)
    assert said(db, request_id) == 0
    with replies.counted(db, request_id, said(db, request_id)):
        replies.once(lambda: made.append("told"))
    assert made == ["told"]


def test_outside_a_stored_request_every_reply_is_made(db: Database) -> None:
    made: list[int] = []
    replies.once(lambda: made.append(1))
    replies.once(lambda: made.append(2))
    assert made == [1, 2]
