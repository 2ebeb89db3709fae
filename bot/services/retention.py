"""What the app keeps, and for how long (RELIABILITY.md says the same for operators).

- A message the app sent (or gave up on) keeps its body for `ADVOCATE_MESSAGE_RETENTION_DAYS`
  after it was written. Then only its key stays, and only while the key can still stop the
  same message from going twice: a year-end recap's and a digest's for a year and a bit, an
  ask's for as long as the ask is open. Every other message row is deleted.
- A request from Slack keeps its body until it is worked; the row goes a day later
  (`pipeline.purge_done`).
- An OAuth state lives until it expires (slack-sdk's ten minutes), then it is deleted.
- Rows that exist only to count or to deduplicate keep only what still does: a giver's
  count for a day (the daily limit) for a week, the nudge a check-in carried (never the
  same two weeks running) for five weeks, the days a digest covered (where the next one
  starts) for a year and a bit.
- A workspace's data goes `ADVOCATE_RETENTION_DAYS` after the app was uninstalled
  (`lifecycle.purge_expired`).

All of it runs on the real clock: `advocate tick --now` moves what is due, never what is
erased.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from bot.services.asks import CLOSED as CLOSED_ASKS
from bot.store.db import Database
from bot.store.models import (
    Ask,
    CheckinNudge,
    DailyGiving,
    OutboxMessage,
    PostedDigest,
    slack_oauth_states,
)

log = logging.getLogger(__name__)

# Keys that stop a message from going twice long after it went: a recap is due again until
# 60 days into the next year, and a digest can be posted again by hand for any past week.
KEPT_FOR_A_YEAR = ("recap:", "digest:")
A_YEAR_AND_A_BIT = timedelta(days=430)
BATCH = 5_000
# A day's count matters on that day (in the giver's timezone) and while a reaction of that
# day can still be withdrawn; a nudge, for the next week's check-in.
DAILY_COUNTS_FOR = timedelta(days=7)
NUDGES_FOR = timedelta(weeks=5)


def erased_body(now: datetime) -> dict[str, Any]:
    """The columns of an outbox row that carry what it said, emptied."""
    return {
        "payload": {},
        "response_url": None,
        "last_error": None,
        "user_id": None,
        "erased_at": now,
    }


def prune(db: Database, now: datetime, message_days: int) -> dict[str, int]:
    """Erase message bodies past their retention and delete what no longer deduplicates,
    expired OAuth states included. Returns how many rows of each kind.

    Every walk of the outbox goes through its (status, erased_at, created_at) index: only
    sent and failed messages are ever erased. (With an index on erased_at alone, SQLite's
    planner walked every unerased message on each call: 40 ms at 100,000 messages.)"""
    cutoff = now - timedelta(days=message_days)
    done = {
        "messages erased": 0,
        "messages deleted": 0,
        "oauth states deleted": 0,
        "daily counts deleted": 0,
        "nudges deleted": 0,
    }
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.team_id, OutboxMessage.dedupe_key)
            .where(
                OutboxMessage.status.in_(("sent", "failed")),
                OutboxMessage.created_at < cutoff,
                OutboxMessage.erased_at.is_(None),
            )
            .limit(BATCH)
        ).all()
        open_asks = _open_asks(session, rows)
        keep = [r.id for r in rows if _still_deduplicates(r.team_id, r.dedupe_key, open_asks)]
        kept = set(keep)
        drop = [r.id for r in rows if r.id not in kept]
        if keep:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(keep))
                .values(**erased_body(now))
                .execution_options(synchronize_session=False)
            )
        if drop:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(drop)))
        done["messages erased"] = len(keep)
        done["messages deleted"] = len(drop)
        # Erased keys: an ask's once the ask is closed (only asks' keys are looked at: the
        # year's, many more, are left to the delete below); a year's after a year.
        erased = session.execute(
            select(OutboxMessage.id, OutboxMessage.team_id, OutboxMessage.dedupe_key)
            .where(
                OutboxMessage.status.in_(("sent", "failed")),
                OutboxMessage.erased_at.is_not(None),
                OutboxMessage.dedupe_key.startswith("ask:"),
            )
            .limit(BATCH)
        ).all()
        open_asks = _open_asks(session, erased)
        stale = [
            r.id for r in erased if not _still_deduplicates(r.team_id, r.dedupe_key, open_asks)
        ]
        year_old = now - A_YEAR_AND_A_BIT
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status.in_(("sent", "failed")),
                OutboxMessage.erased_at.is_not(None),
                OutboxMessage.created_at < year_old,
                or_(*(OutboxMessage.dedupe_key.startswith(p) for p in KEPT_FOR_A_YEAR)),
            )
        )
        if stale:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(stale)))
            done["messages deleted"] += len(stale)
        # slack-sdk stores expire_at as a naive UTC datetime.
        expired = session.execute(
            delete(slack_oauth_states).where(
                slack_oauth_states.c.expire_at < now.replace(tzinfo=None)
            )
        )
        done["oauth states deleted"] = int(getattr(expired, "rowcount", 0) or 0)
        # In batches too: the first pass after an upgrade finds a year of them.
        old_days = select(DailyGiving.id).where(DailyGiving.day < (now - DAILY_COUNTS_FOR).date())
        days = session.execute(
            delete(DailyGiving).where(DailyGiving.id.in_(old_days.limit(BATCH).scalar_subquery()))
        )
        done["daily counts deleted"] = int(getattr(days, "rowcount", 0) or 0)
        old_nudges = select(CheckinNudge.id).where(CheckinNudge.created_at < now - NUDGES_FOR)
        nudges = session.execute(
            delete(CheckinNudge).where(
                CheckinNudge.id.in_(old_nudges.limit(BATCH).scalar_subquery())
            )
        )
        done["nudges deleted"] = int(getattr(nudges, "rowcount", 0) or 0)
        # A digest's days tell the next one where to start; a year and a bit is plenty.
        session.execute(delete(PostedDigest).where(PostedDigest.created_at < year_old))
    if any(done.values()):
        log.info("retention: %s", ", ".join(f"{n} {what}" for what, n in done.items() if n))
    return done


def _still_deduplicates(team_id: str, key: str, open_asks: set[tuple[str, int]]) -> bool:
    if key.startswith(KEPT_FOR_A_YEAR):
        return True
    if key.startswith("ask:"):
        ask_id = key.split(":")[1]
        return ask_id.isdigit() and (team_id, int(ask_id)) in open_asks
    return False


def _open_asks(session: Any, rows: Any) -> set[tuple[str, int]]:
    """(team, ask id) of the asks among `rows`' keys that are still open."""
    ids = {
        int(part)
        for r in rows
        if r.dedupe_key.startswith("ask:") and (part := r.dedupe_key.split(":")[1]).isdigit()
    }
    if not ids:
        return set()
    found = session.execute(
        select(Ask.team_id, Ask.id).where(
            Ask.id.in_(sorted(ids)), Ask.status.not_in(sorted(CLOSED_ASKS))
        )
    ).all()
    return {(team, ask_id) for team, ask_id in found}


_last_pruned: dict[str, float] = {}
PRUNE_EVERY = 300.0  # seconds


def prune_now_and_then(db: Database, now: datetime, message_days: int) -> None:
    """`prune`, at most every few minutes per process: the scheduler ticks every 15 s."""
    last = _last_pruned.get(db.url)
    if last is not None and time.monotonic() - last < PRUNE_EVERY:
        return
    _last_pruned[db.url] = time.monotonic()
    prune(db, now, message_days)
