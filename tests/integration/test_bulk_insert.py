"""`insert_ignoring_conflicts`: how "exactly once" is decided for many rows at a time (the
week's check-ins), on both databases; from `COPY_FROM` rows PostgreSQL is sent them by COPY."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import Workspace
from bot.services import outbox
from bot.store.db import COPY_FROM, Database, insert_ignoring_conflicts
from bot.store.models import OutboxMessage

# In the past: a row decided for a later instant is written at the real clock.
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
WS = Workspace("T111")


def row(n: int, payload: dict[str, Any]) -> dict[str, Any]:
    """A check-in, as the week's fan-out writes it."""
    at = NOW + timedelta(seconds=n)
    key = f"checkin:2030-W02:U{n:05d}"
    return outbox.direct_message_row(WS, key=key, user_id=f"U{n:05d}", message=payload, now=at)


@pytest.mark.parametrize("many", [3, COPY_FROM, 2 * COPY_FROM + 1])
def test_rows_go_in_once_in_order_and_read_back_as_written(db: Database, many: int) -> None:
    shared = {"text": "Your weekly check-in", "blocks": [{"type": "divider"}]}
    first = [row(n, shared if n % 2 else {"text": f"for U{n:05d} “quoted”\n"}) for n in range(many)]
    with db.transaction() as session:
        assert (
            insert_ignoring_conflicts(session, OutboxMessage, first, ["team_id", "dedupe_key"])
            == many
        )
    # Again, with as many new rows: only those go in, after the others.
    again = first[::-1] + [row(many + n, shared) for n in range(many)]
    with db.transaction() as session:
        assert (
            insert_ignoring_conflicts(session, OutboxMessage, again, ["team_id", "dedupe_key"])
            == many
        )

    with db.transaction() as session:
        stored = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.user_id for m in stored] == [f"U{n:05d}" for n in range(2 * many)]
    assert stored[0].payload == {"text": "for U00000 “quoted”\n"}
    assert stored[1].payload == shared
    assert stored[-1].next_attempt_at == NOW + timedelta(seconds=2 * many - 1)


def test_a_conflict_in_a_rolled_back_transaction_leaves_nothing(db: Database) -> None:
    rows = [row(n, {"text": "hi"}) for n in range(COPY_FROM)]
    with pytest.raises(RuntimeError), db.transaction() as session:
        insert_ignoring_conflicts(session, OutboxMessage, rows, ["team_id", "dedupe_key"])
        raise RuntimeError("the chunk raced another process")
    with db.transaction() as session:
        assert session.scalars(select(OutboxMessage.id)).all() == []
        # The same rows in the same transaction twice: the second time none go in.
        assert insert_ignoring_conflicts(
            session, OutboxMessage, rows, ["team_id", "dedupe_key"]
        ) == len(rows)
        assert (
            insert_ignoring_conflicts(session, OutboxMessage, rows, ["team_id", "dedupe_key"]) == 0
        )
