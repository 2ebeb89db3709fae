"""Ask reminders, each sent once: the helper on the due morning, both when it is overdue,
and the asker when the helper has not answered for two working days."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from bot.blocks import asks as render
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import asks, outbox
from bot.services.ask_posts import after_sent
from bot.services.settings import WorkspaceSettings
from bot.store.models import Ask, OutboxMessage, Person

log = logging.getLogger(__name__)

MORNING = time(9, 0)
ANSWER_WITHIN_WORKING_DAYS = 2


def add_working_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`start` plus `days` working days (Monday to Friday) in `zone`."""
    local = start.astimezone(zone)
    while days > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def queue_reminders(
    runtime: Runtime, workspace: Workspace, config: WorkspaceSettings, now: datetime
) -> int:
    """Queue every reminder due now for the workspace's open asks; returns how many."""
    open_asks = asks.open_in(runtime.db, workspace)
    if not open_asks:
        return 0
    finish_half_posted(runtime, workspace, open_asks, now)
    zones = _zones(runtime, workspace, {a.helper_id for a in open_asks}, config.timezone)
    messages = []
    for ask in open_asks:
        messages += _due_for(workspace, ask, zones.get(ask.helper_id), now)
    if not messages:
        return 0
    return len(outbox.enqueue(runtime.db, workspace, messages))


def finish_half_posted(
    runtime: Runtime, workspace: Workspace, open_asks: list[Ask], now: datetime
) -> None:
    """Asks whose post went out but whose thread was never recorded, nor its questions
    queued (the process stopped, or the database failed, right after the post): finished
    here, once, from the post the outbox recorded."""
    unthreaded = {f"ask:{a.id}:post": a for a in open_asks if a.thread_ts is None}
    if not unthreaded:
        return
    with runtime.db.transaction() as session:
        posted = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.team_id == workspace.team_id,
                    OutboxMessage.dedupe_key.in_(sorted(unthreaded)),
                    OutboxMessage.status == "sent",
                    OutboxMessage.sent_ts.is_not(None),
                )
            )
        )
    for post in posted:
        log.warning("finishing %s: its thread and questions were left behind", post.dedupe_key)
        runtime.sender.deliver(after_sent(runtime.db, post, post.sent_ts, now))


def _due_for(workspace: Workspace, ask: Ask, helper_zone: ZoneInfo | None, now: datetime) -> list:
    asker_zone = _zone(ask.timezone)
    helper_zone = helper_zone or asker_zone
    due = asks.deadline(ask)
    out = []

    def dm(user_id: str, kind: str, key: str) -> None:
        out.append(
            outbox.direct_message(
                workspace,
                key=f"ask:{ask.id}:{key}",
                user_id=user_id,
                message=render.reminder(ask, kind),
                now=now,
            )
        )

    if due is not None:
        morning = datetime.combine(due, MORNING, helper_zone)
        day_ends = datetime.combine(due + timedelta(days=1), time(0), helper_zone)
        if morning <= now < day_ends:
            dm(ask.helper_id, "due_today", f"due-{due.isoformat()}")
        if now >= asks.end_of_day(due, ask.timezone):
            dm(ask.helper_id, "overdue_helper", f"overdue-{due.isoformat()}-helper")
            dm(ask.asker_id, "overdue_asker", f"overdue-{due.isoformat()}-asker")
    if ask.status == "asked" and now >= add_working_days(
        ask.created_at, ANSWER_WITHIN_WORKING_DAYS, asker_zone
    ):
        dm(ask.asker_id, "unanswered", "unanswered")
    return out


def _zones(
    runtime: Runtime, workspace: Workspace, user_ids: set[str], fallback: str
) -> dict[str, ZoneInfo]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Person.user_id, Person.tz).where(
                Person.team_id == workspace.team_id, Person.user_id.in_(user_ids)
            )
        ).all()
    return {r[0]: _zone(r[1] or fallback) for r in rows}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
