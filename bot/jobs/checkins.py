"""The check-in fan-out: each person's DM, in their own timezone, exactly once a week."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.blocks.checkin import checkin_message
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import checkins, outbox
from bot.services.schedule import due_week, shift_week
from bot.services.settings import WorkspaceSettings
from bot.slack import people
from bot.store.db import insert_ignoring_conflicts
from bot.store.models import BuyInGoal, InstalledWorkspace, OutboxMessage

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
    # Thousands of people share a handful of schedules: work each one out once.
    weeks: dict[tuple[str, str, str | None], str | None] = {}
    for member in checkins.audience(runtime.db, workspace, config, now, channel_members):
        schedule = (
            member.checkin_day or config.checkin_day,
            member.checkin_time or config.checkin_time,
            member.tz,
        )
        if schedule not in weeks:
            day, hhmm, tz = schedule
            weeks[schedule] = due_week(now, day, hhmm, _zone(tz, config))
        week = weeks[schedule]
        if week:
            due[member.user_id] = week
    if not due:
        return 0
    keys = {uid: f"checkin:{week}:{uid}" for uid, week in due.items()}
    # Last week's goals, to ask how they went; one small query per week due.
    last_goals = {
        week: checkins.goals_for(runtime.db, workspace, shift_week(week, -1))
        for week in set(due.values())
    }
    without_goal = {week: checkin_message(week, None) for week in last_goals}
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
            rows = [
                outbox.direct_message_row(
                    workspace,
                    key=keys[uid],
                    user_id=uid,
                    message=_message(due[uid], last_goals[due[uid]].get(uid), without_goal),
                    now=now,
                )
                for uid in chunk
                if keys[uid] not in existing
            ]
            # The table, not the ORM class: a plain executemany, no ORM bulk bookkeeping.
            insert_ignoring_conflicts(
                session, OutboxMessage.__table__, rows, ["team_id", "dedupe_key"]
            )
        queued += len(rows)
    if queued:
        log.info("queued %s check-ins in %s", queued, workspace.team_id)
    return queued


def _message(
    week: str, last_goal: BuyInGoal | None, without_goal: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    # Most people set no goal: their check-ins are the same message, built once a week.
    return checkin_message(week, last_goal) if last_goal else without_goal[week]


def _zone(tz: str | None, config: WorkspaceSettings) -> ZoneInfo:
    for name in (tz, config.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
