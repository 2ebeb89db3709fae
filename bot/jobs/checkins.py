"""The check-in fan-out: each person's DM, in their own timezone, exactly once a week."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.blocks.checkin import checkin_message
from bot.blocks.recap import recap_message
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import checkins, nudges, outbox, recap
from bot.services.schedule import due_week, shift_week
from bot.services.settings import WorkspaceSettings
from bot.slack import people
from bot.store.db import among, insert_ignoring_conflicts
from bot.store.models import BuyInGoal, CheckinNudge, InstalledWorkspace, OutboxMessage

log = logging.getLogger(__name__)

REFRESH_EVERY = timedelta(hours=12)
# People queued per transaction. Each chunk's nudges read the givers' year of appreciation
# once (on PostgreSQL a hash join over it: 70 ms a chunk in the benchmark, whatever the
# chunk's size), so chunks are large; on SQLite each holds the writer lock while worked.
CHUNK = 2500
RACE_RETRIES = 3


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
    channel_members: Collection[str] | Callable[[], Collection[str]] | None = None,
) -> int:
    """Queue the check-ins due now; returns how many were newly queued.

    The outbox key `checkin:<week>:<person>` makes this safe to run from any number of
    processes, and again after a restart mid-way: nobody is skipped or asked twice. Each
    check-in may carry follow-ups and one nudge (services/nudges.py), worked out in a few
    queries per chunk of people not queued yet; the nudge is recorded with the check-in.
    """
    due: dict[str, str] = {}
    # Whose recap year this check-in carries (their first on or after the recap date).
    recap_years: dict[str, int] = {}
    # Thousands of people share a handful of schedules: work each one out once.
    weeks: dict[tuple[str, str, str | None], str | None] = {}
    years: dict[str | None, int | None] = {}
    # A channel's members are asked of Slack only once somebody's check-in is due: until
    # then everyone who could be in it is looked at (the same people, guests excepted).
    members_of = channel_members if callable(channel_members) else None
    given = None if callable(channel_members) else channel_members
    pool = replace(config, checkin_audience="all") if members_of else config
    for member in checkins.audience(runtime.db, workspace, pool, now, given):
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
            if runtime.settings.recap_date and member.tz not in years:
                local_today = now.astimezone(_zone(member.tz, config)).date()
                years[member.tz] = recap.due_year(local_today, runtime.settings.recap_date)
            if year := years.get(member.tz):
                recap_years[member.user_id] = year
    if due and members_of is not None:
        wanted = set(members_of())
        due = {uid: week for uid, week in due.items() if uid in wanted}
    if not due:
        return 0
    keys = {uid: f"checkin:{week}:{uid}" for uid, week in due.items()}
    # Last week's goals, to ask how they went; one small query per week due.
    goals_by_week = {
        week: checkins.goals_for(runtime.db, workspace, shift_week(week, -1))
        for week in set(due.values())
    }
    last_goals = {uid: goal for uid, week in due.items() if (goal := goals_by_week[week].get(uid))}
    # Most people have nothing of their own to be asked: they share one message a week.
    shared = {week: checkin_message(week, None) for week in goals_by_week}
    queued: list[str] = []
    users = sorted(due)
    for start in range(0, len(users), CHUNK):
        chunk = _Chunk(users[start : start + CHUNK], due, keys, last_goals, shared)
        for _ in range(RACE_RETRIES):
            try:
                queued += _queue_chunk(runtime, workspace, chunk, now)
                break
            except _Raced:
                # Another process queued some of these meanwhile: do the rest again (or,
                # after a few tries, leave them to the next tick).
                log.info("check-ins raced in %s; queueing the rest again", workspace.team_id)
    if queued:
        log.info("queued %s check-ins in %s", len(queued), workspace.team_id)
    # Everyone due, not only those queued now: a recap left behind by an earlier run (it
    # failed, or its process stopped after the check-ins) is queued by the next one.
    _queue_recaps(
        runtime, workspace, config, {u: recap_years[u] for u in due if u in recap_years}, now
    )
    return len(queued)


def _queue_recaps(
    runtime: Runtime,
    workspace: Workspace,
    config: WorkspaceSettings,
    years: dict[str, int],
    now: datetime,
) -> None:
    """The year-end recaps that come with the check-ins just queued: once per person and
    year (the outbox key `recap:<year>:<person>`), and none for a year with nothing."""
    keys = {uid: f"recap:{year}:{uid}" for uid, year in years.items()}
    if not keys:
        return
    with runtime.db.transaction() as session:
        sent = set(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.team_id == workspace.team_id,
                    OutboxMessage.dedupe_key.in_(list(keys.values())),
                )
            )
        )
    wanted: dict[int, list[str]] = {}
    for uid, year in years.items():
        if keys[uid] not in sent:
            wanted.setdefault(year, []).append(uid)
    rows = []
    for year, user_ids in wanted.items():
        for uid, person in recap.build_many(
            runtime.db, workspace, year, user_ids, config.timezone
        ).items():
            if not person.empty:
                rows.append(
                    outbox.direct_message_row(
                        workspace,
                        key=keys[uid],
                        user_id=uid,
                        message=recap_message(person),
                        now=now,
                    )
                )
    with runtime.db.transaction() as session:
        queued = insert_ignoring_conflicts(
            session, OutboxMessage.__table__, rows, ["team_id", "dedupe_key"]
        )
    if queued:
        log.info("queued %s year-end recaps in %s", queued, workspace.team_id)


@dataclass(frozen=True)
class _Chunk:
    users: list[str]
    weeks: dict[str, str]
    keys: dict[str, str]
    last_goals: dict[str, BuyInGoal]
    shared: dict[str, dict[str, Any]]


class _Raced(Exception):
    """Fewer check-ins went in than were written: the chunk is rolled back and done again."""


def _queue_chunk(runtime: Runtime, workspace: Workspace, chunk: _Chunk, now: datetime) -> list[str]:
    """Queue the chunk's check-ins not queued yet, and record the nudge each one carries.

    The nudges are recorded in the transaction that inserts the check-ins, and only when
    every check-in written went in: the rows of a process that lost a race to another
    would otherwise record nudges that the other's check-ins do not carry.
    """
    with runtime.db.transaction() as session:
        existing = set(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.team_id == workspace.team_id,
                    among(session, OutboxMessage.dedupe_key, [chunk.keys[u] for u in chunk.users]),
                )
            )
        )
        fresh = {u: chunk.weeks[u] for u in chunk.users if chunk.keys[u] not in existing}
        if not fresh:
            return []
        extras = nudges.for_checkins(session, workspace, fresh, chunk.last_goals, now)
        rows = [
            outbox.direct_message_row(
                workspace,
                key=chunk.keys[uid],
                user_id=uid,
                message=_message(week, chunk.last_goals.get(uid), extras.get(uid), chunk.shared),
                now=now,
            )
            for uid, week in fresh.items()
        ]
        # The table, not the ORM class: a plain executemany, no ORM bulk bookkeeping.
        inserted = insert_ignoring_conflicts(
            session, OutboxMessage.__table__, rows, ["team_id", "dedupe_key"]
        )
        if inserted < len(rows):
            raise _Raced
        carried = {uid: (fresh[uid], extra.nudge) for uid, extra in extras.items() if extra.nudge}
        insert_ignoring_conflicts(
            session,
            CheckinNudge.__table__,
            nudges.nudge_rows(workspace, carried, now),
            ["team_id", "user_id", "week"],
        )
        return list(fresh)


def _message(
    week: str,
    last_goal: BuyInGoal | None,
    extras: nudges.Extras | None,
    shared: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if last_goal is None and extras is None:
        return shared[week]
    extras = extras or nudges.Extras()
    return checkin_message(
        week,
        last_goal,
        followups=extras.followups,
        nudge=extras.nudge,
        suggest_listening=extras.suggest_listening,
    )


def _zone(tz: str | None, config: WorkspaceSettings) -> ZoneInfo:
    for name in (tz, config.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
