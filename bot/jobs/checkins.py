"""The check-in fan-out: each person's DM, in their own timezone, exactly once a week."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.blocks.checkin import checkin_message
from bot.runtime import Runtime
from bot.services import checkins, outbox
from bot.services.schedule import due_week, shift_week
from bot.services.settings import WorkspaceSettings
from bot.services.workspace import Workspace
from bot.slack import people
from bot.store.db import insert_ignoring_conflicts
from bot.store.models import InstalledWorkspace, OutboxMessage

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(hours=12)
CHUNK = 500


def refresh_people(
    runtime: Runtime, client: WebClient, workspace: Workspace, now: datetime
) -> None:
    """Re-read members (timezones, leavers, guests) from Slack twice a day."""
    with runtime.db.transaction() as session:
        row = session.scalar(
            select(InstalledWorkspace).where(InstalledWorkspace.team_id == workspace.team_id)
        )
        last = row.people_refreshed_at if row else None
    if last is not None and now - last < REFRESH_EVERY:
        return
    count = people.refresh_all(client, runtime.db, workspace, now)
    with runtime.db.transaction() as session:
        session.execute(
            update(InstalledWorkspace)
            .where(InstalledWorkspace.team_id == workspace.team_id)
            .values(people_refreshed_at=now)
            .execution_options(synchronize_session=False)
        )
    log.info("refreshed %s members of %s", count, workspace.team_id)


def queue_checkins(
    runtime: Runtime,
    workspace: Workspace,
    config: WorkspaceSettings,
    now: datetime,
    channel_members: set[str] | None = None,
) -> int:
    """Queue the check-ins due now; returns how many were newly queued.

    The outbox key `checkin:<week>:<person>` makes this safe to run from any number of
    processes, and again after a restart mid-way: nobody is skipped or asked twice.
    """
    due: dict[str, str] = {}
    for member in checkins.audience(runtime.db, workspace, config, now, channel_members):
        week = due_week(
            now,
            member.checkin_day or config.checkin_day,
            member.checkin_time or config.checkin_time,
            _zone(member.tz, config),
        )
        if week:
            due[member.user_id] = week
    if not due:
        return 0
    keys = {uid: f"checkin:{week}:{uid}" for uid, week in due.items()}
    queued = 0
    users = sorted(due)
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        with runtime.db.transaction() as session:
            existing = set(
                session.scalars(
                    select(OutboxMessage.dedupe_key).where(
                        OutboxMessage.team_id == workspace.team_id,
                        OutboxMessage.dedupe_key.in_([keys[u] for u in chunk]),
                    )
                )
            )
        missing = [u for u in chunk if keys[u] not in existing]
        if not missing:
            continue
        rows = []
        for week in {due[u] for u in missing}:
            people_this_week = [u for u in missing if due[u] == week]
            last_goals = checkins.goals_for(
                runtime.db, workspace, shift_week(week, -1), people_this_week
            )
            for uid in people_this_week:
                message = outbox.direct_message(
                    workspace,
                    key=keys[uid],
                    user_id=uid,
                    message=checkin_message(week, last_goals.get(uid)),
                    now=now,
                )
                rows.append({c.key: getattr(message, c.key) for c in _COLUMNS})
        with runtime.db.transaction() as session:
            insert_ignoring_conflicts(session, OutboxMessage, rows, ["team_id", "dedupe_key"])
        queued += len(rows)
    if queued:
        log.info("queued %s check-ins in %s", queued, workspace.team_id)
    return queued


_COLUMNS = [c for c in OutboxMessage.__table__.columns if c.key != "id"]


def _zone(tz: str | None, config: WorkspaceSettings) -> ZoneInfo:
    for name in (tz, config.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
