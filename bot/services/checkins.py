"""Weekly DM check-ins: who gets one, and what people answer (buy-in goals, pauses)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from bot.config import WEEKDAYS
from bot.domain import Workspace
from bot.services.settings import WorkspaceSettings
from bot.store.db import Database
from bot.store.models import BuyInGoal, Person

PAUSE = timedelta(weeks=4)
OUTCOMES = {"won": "won them over", "working": "still working on it", "skipped": "skipped"}


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str | None
    checkin_day: str | None = None
    checkin_time: str | None = None


def audience(
    db: Database,
    workspace: Workspace,
    config: WorkspaceSettings,
    now: datetime,
    channel_members: Collection[str] | None = None,
) -> list[Member]:
    """Who gets a check-in: by default people who used the app; or all members; or a
    channel's members. Never bots, leavers, people who stopped or paused check-ins."""
    query = select(Person.user_id, Person.tz, Person.checkin_day, Person.checkin_time).where(
        Person.team_id == workspace.team_id,
        Person.is_bot.is_(False),
        Person.deleted.is_(False),
        Person.checkins_stopped.is_(False),
        or_(Person.checkins_paused_until.is_(None), Person.checkins_paused_until <= now),
    )
    if config.checkin_audience == "users":
        query = query.where(Person.used_app_at.is_not(None))
    else:
        query = query.where(Person.is_guest.is_(False))
    with db.transaction() as session:
        rows = session.execute(query.order_by(Person.user_id)).all()
    members = [Member(r[0], r[1], r[2], r[3]) for r in rows]
    if config.checkin_audience == "channel":
        wanted = set(channel_members or ())
        members = [m for m in members if m.user_id in wanted]
    return members


def goals_for(db: Database, workspace: Workspace, week: str) -> dict[str, BuyInGoal]:
    """Every buy-in goal set for `week` in the workspace, by the person who set it."""
    with db.transaction() as session:
        rows = session.scalars(
            select(BuyInGoal).where(BuyInGoal.team_id == workspace.team_id, BuyInGoal.week == week)
        )
        return {g.user_id: g for g in rows}


def set_goal(
    db: Database, workspace: Workspace, user_id: str, week: str, target: str, now: datetime
) -> tuple[BuyInGoal, str | None]:
    """Record this week's buy-in goal; returns it and the earlier target when it changed."""
    try:
        return _set_goal(db, workspace, user_id, week, target, now)
    except IntegrityError:
        # Two clicks raced to create the week's goal; the loser now finds it and updates.
        return _set_goal(db, workspace, user_id, week, target, now)


def _set_goal(
    db: Database, workspace: Workspace, user_id: str, week: str, target: str, now: datetime
) -> tuple[BuyInGoal, str | None]:
    with db.transaction() as session:
        goal = session.scalar(
            select(BuyInGoal)
            .where(
                BuyInGoal.team_id == workspace.team_id,
                BuyInGoal.user_id == user_id,
                BuyInGoal.week == week,
            )
            .with_for_update()
        )
        before = goal.target_user_id if goal else None
        if goal is None:
            goal = BuyInGoal(
                team_id=workspace.team_id,
                enterprise_id=workspace.enterprise_id,
                user_id=user_id,
                week=week,
                target_user_id=target,
                created_at=now,
                updated_at=now,
            )
            session.add(goal)
        elif goal.target_user_id != target:
            goal.target_user_id = target
            goal.outcome = None
            goal.updated_at = now
        return goal, before


def set_outcome(
    db: Database, workspace: Workspace, user_id: str, goal_id: int, outcome: str, now: datetime
) -> BuyInGoal | None:
    """Say how a goal went; None when it is not this person's goal."""
    if outcome not in OUTCOMES:
        raise ValueError(outcome)
    with db.transaction() as session:
        goal = session.scalar(
            select(BuyInGoal).where(
                BuyInGoal.team_id == workspace.team_id,
                BuyInGoal.id == goal_id,
                BuyInGoal.user_id == user_id,
            )
        )
        if goal is not None and goal.outcome != outcome:
            goal.outcome = outcome
            goal.updated_at = now
        return goal


def history(db: Database, workspace: Workspace, user_id: str, limit: int = 5) -> list[BuyInGoal]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(BuyInGoal)
                .where(BuyInGoal.team_id == workspace.team_id, BuyInGoal.user_id == user_id)
                .order_by(BuyInGoal.week.desc())
                .limit(limit)
            )
        )


def set_participation(
    db: Database, workspace: Workspace, user_id: str, choice: str, now: datetime
) -> Person | None:
    """`pause` (4 weeks), `stop`, or `resume` check-ins for one person."""
    with db.transaction() as session:
        person = session.scalar(
            select(Person).where(Person.team_id == workspace.team_id, Person.user_id == user_id)
        )
        if person is None:
            return None
        if choice == "pause":
            person.checkins_paused_until = now + PAUSE
        elif choice == "stop":
            person.checkins_stopped = True
        elif choice == "resume":
            person.checkins_stopped = False
            person.checkins_paused_until = None
        else:
            raise ValueError(choice)
        return person


def participation(db: Database, workspace: Workspace, user_id: str) -> Person | None:
    with db.transaction() as session:
        return session.scalar(
            select(Person).where(Person.team_id == workspace.team_id, Person.user_id == user_id)
        )


def check_schedule(day: str, time: str) -> None:
    """Raises ValueError naming the day or the time when one is not valid."""
    if day not in WEEKDAYS:
        raise ValueError("Choose a day of the week.")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", time):
        raise ValueError("Choose a time.")


def set_schedule(db: Database, workspace: Workspace, user_id: str, day: str, time: str) -> None:
    """A person's own check-in day and time, in their own timezone."""
    check_schedule(day, time)
    with db.transaction() as session:
        person = session.scalar(
            select(Person).where(Person.team_id == workspace.team_id, Person.user_id == user_id)
        )
        if person is not None:
            person.checkin_day = day
            person.checkin_time = time
