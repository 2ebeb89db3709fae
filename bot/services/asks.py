"""Asks: a request to a colleague, its obstacles, the commitment, and the thanks at the end.

The ask's life is one small state machine (`TRANSITIONS`). Every change is a compare-and-set
in the database (`UPDATE ... WHERE status IN (allowed)`), so a double click, or two people
clicking at once, changes the state once; the loser is told what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import Workspace
from bot.errors import UserError
from bot.services import steps
from bot.store.db import Database
from bot.store.models import Ask, Obstacle

OPEN = frozenset({"asked", "discussing", "committed"})
CLOSED = frozenset({"done", "declined", "cancelled"})
MAX_REQUEST = 2000


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    role: str  # who may do it: helper | asker


TRANSITIONS: dict[str, Transition] = {
    "commit": Transition(frozenset({"asked", "discussing"}), "committed", "helper"),
    "discuss": Transition(frozenset({"asked"}), "discussing", "helper"),
    "decline": Transition(frozenset({"asked", "discussing"}), "declined", "helper"),
    "done": Transition(OPEN, "done", "helper"),
    "cancel": Transition(OPEN, "cancelled", "asker"),
}
# Obstacles: the helper raises them; the asker helps remove them.
OBSTACLE_ROLES = {"raise": "helper", "handling": "asker", "resolved": "asker"}
OBSTACLE_SOURCES = {"handling": frozenset({"open"}), "resolved": frozenset({"open", "handling"})}


def next_status(status: str, event: str) -> str | None:
    """The status after `event`, or None when `event` is not allowed from `status`."""
    transition = TRANSITIONS.get(event)
    if transition is None or status not in transition.sources:
        return None
    return transition.target


def check_role(ask: Ask, user_id: str, role: str) -> None:
    """Only the helper answers the helper's questions; only the asker acts for the asker."""
    owner = ask.helper_id if role == "helper" else ask.asker_id
    if user_id != owner:
        raise UserError(f"Only <@{owner}> can answer this.")


def check_can(ask: Ask, user_id: str, event: str) -> None:
    """Raise UserError unless `user_id` may do `event` now (before a modal is opened for it)."""
    transition = TRANSITIONS[event]
    check_role(ask, user_id, transition.role)
    if ask.status not in transition.sources:
        raise UserError(f"Already answered: this ask is {describe_status(ask)}.")


def check_new(asker: str, helper: str, request: str) -> None:
    if helper == asker:
        raise UserError(
            "You can't ask yourself. Who is the colleague you need? `/ask @someone what you "
            "need by Friday`"
        )
    if not request.strip():
        raise UserError(
            "What do you need? Say it in a sentence: `/ask @ana review the renewal quote by Friday`"
        )
    if len(request) > MAX_REQUEST:
        raise UserError(
            f"Your request is {len(request):,} characters; please keep it under {MAX_REQUEST:,}."
        )


def start(
    db: Database,
    workspace: Workspace,
    *,
    asker_id: str,
    helper_id: str,
    request: str,
    channel_id: str,
    due_on: date | None,
    timezone: str,
    source_key: str,
    now: datetime,
    thread_ts: str | None = None,
    said_in_private: bool = False,
) -> tuple[Ask, bool]:
    """Record a new ask; returns it and whether it is new (False: this submission repeated).

    `thread_ts` is the message the ask was made from, when it was; `said_in_private`: the
    channel is private, so its words are for its asker and helper and that channel alone.
    """
    check_new(asker_id, helper_id, request)
    try:
        with db.transaction() as session:
            existing = session.scalar(
                select(Ask).where(Ask.team_id == workspace.team_id, Ask.source_key == source_key)
            )
            if existing is not None:
                return existing, False
            ask = Ask(
                team_id=workspace.team_id,
                enterprise_id=workspace.enterprise_id,
                asker_id=asker_id,
                helper_id=helper_id,
                request=request.strip(),
                channel_id=channel_id,
                said_in_private=said_in_private,
                thread_ts=thread_ts,
                from_message=thread_ts is not None,
                due_on=due_on,
                timezone=timezone,
                status="asked",
                source_key=source_key,
                created_at=now,
                updated_at=now,
                obstacles=[],
            )
            session.add(ask)
            session.flush()
            return ask, True
    except IntegrityError:
        found = get(db, workspace, source_key=source_key)
        assert found is not None
        return found, False


def get(
    db: Database, workspace: Workspace, ask_id: int | None = None, *, source_key: str | None = None
) -> Ask | None:
    with db.transaction() as session:
        query = select(Ask).where(Ask.team_id == workspace.team_id)
        if ask_id is not None:
            query = query.where(Ask.id == ask_id)
        if source_key is not None:
            query = query.where(Ask.source_key == source_key)
        return session.scalar(query)


def some(db: Database, workspace: Workspace, ask_ids: list[int]) -> list[Ask]:
    """The workspace's asks among `ask_ids`, oldest first (at most 10)."""
    if not ask_ids:
        return []
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Ask)
                .where(Ask.team_id == workspace.team_id, Ask.id.in_(ask_ids[:10]))
                .order_by(Ask.id)
            )
        )


def require(db: Database, workspace: Workspace, ask_id: int) -> Ask:
    ask = get(db, workspace, ask_id)
    if ask is None:
        raise UserError("I can't find that ask any more.")
    return ask


def apply(
    db: Database,
    workspace: Workspace,
    ask_id: int,
    user_id: str,
    event: str,
    now: datetime,
    *,
    committed_on: date | None = None,
    reason: str | None = None,
) -> Ask:
    """Apply `event` for `user_id`. Raises UserError for the wrong person or a stale click."""
    transition = TRANSITIONS[event]
    ask = require(db, workspace, ask_id)
    check_role(ask, user_id, transition.role)
    values: dict[str, object] = {"status": transition.target, "updated_at": now}
    if event == "commit":
        values.update(committed_on=committed_on or ask.due_on, committed_at=now)
    if event == "done":
        values["done_at"] = now
    if event == "decline":
        values["decline_reason"] = reason
    with db.transaction() as session:
        changed = session.execute(
            update(Ask)
            .where(
                Ask.team_id == workspace.team_id,
                Ask.id == ask_id,
                Ask.status.in_(transition.sources),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) == 1:
            # A step's run that waited for this change ends with it (bot/services/steps.py).
            steps.ask_changed(session, workspace, ask, event, values)
    if getattr(changed, "rowcount", 0) != 1:
        current = require(db, workspace, ask_id)
        raise UserError(f"Already answered: this ask is {describe_status(current)}.")
    return require(db, workspace, ask_id)


def raise_obstacle(
    db: Database, workspace: Workspace, ask_id: int, user_id: str, description: str, now: datetime
) -> tuple[Ask, Obstacle]:
    ask = require(db, workspace, ask_id)
    check_role(ask, user_id, OBSTACLE_ROLES["raise"])
    if ask.status in CLOSED:
        raise UserError(f"This ask is already {describe_status(ask)}.")
    if not description.strip():
        raise UserError("Describe what could get in the way.")
    with db.transaction() as session:
        obstacle = Obstacle(
            team_id=workspace.team_id,
            enterprise_id=workspace.enterprise_id,
            ask_id=ask.id,
            description=description.strip()[:MAX_REQUEST],
            status="open",
            created_at=now,
        )
        session.add(obstacle)
        session.flush()
    return require(db, workspace, ask_id), obstacle


def update_obstacle(
    db: Database, workspace: Workspace, obstacle_id: int, user_id: str, status: str, now: datetime
) -> tuple[Ask, Obstacle]:
    with db.transaction() as session:
        obstacle = session.scalar(
            select(Obstacle).where(
                Obstacle.team_id == workspace.team_id, Obstacle.id == obstacle_id
            )
        )
    if obstacle is None:
        raise UserError("I can't find that obstacle any more.")
    ask = require(db, workspace, obstacle.ask_id)
    check_role(ask, user_id, OBSTACLE_ROLES[status])
    with db.transaction() as session:
        changed = session.execute(
            update(Obstacle)
            .where(Obstacle.id == obstacle_id, Obstacle.status.in_(OBSTACLE_SOURCES[status]))
            .values(status=status, resolved_at=now if status == "resolved" else None)
            .execution_options(synchronize_session=False)
        )
    if getattr(changed, "rowcount", 0) != 1:
        raise UserError(f"Already answered: that obstacle is {obstacle.status}.")
    with db.transaction() as session:
        fresh = session.get(Obstacle, obstacle_id)
        assert fresh is not None
    return require(db, workspace, ask.id), fresh


def deadline(ask: Ask) -> date | None:
    return ask.committed_on or ask.due_on


def describe_status(ask: Ask) -> str:
    """The status people see on the ask's message."""
    if ask.status == "done":
        return "done"
    if ask.status == "declined":
        return "declined"
    if ask.status == "cancelled":
        return "cancelled"
    if any(o.status != "resolved" for o in ask.obstacles):
        return "obstacle open"
    if ask.status == "committed" and ask.committed_on:
        return f"committed by {ask.committed_on:%a %-d %b}"
    if ask.status == "committed":
        return "committed"
    if ask.status == "discussing":
        return "needs a conversation"
    return "asked"


def open_for(db: Database, workspace: Workspace, user_id: str) -> list[Ask]:
    """Open asks where `user_id` is the asker or the helper, newest first."""
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Ask)
                .where(
                    Ask.team_id == workspace.team_id,
                    Ask.status.in_(OPEN),
                    (Ask.asker_id == user_id) | (Ask.helper_id == user_id),
                )
                .order_by(Ask.created_at.desc())
                .limit(20)
            )
        )


def open_in(db: Database, workspace: Workspace) -> list[Ask]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Ask).where(Ask.team_id == workspace.team_id, Ask.status.in_(OPEN))
            )
        )


def end_of_day(day: date, timezone: str) -> datetime:
    """The instant `day` ends in `timezone`."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(timezone))


def kept_on_time(
    db: Database, workspace: Workspace, start: datetime, end: datetime
) -> tuple[int, int]:
    """Asks marked done in [start, end) no later than the day they were due, and how many
    of those the asker has thanked the helper for."""
    with db.transaction() as session:
        done = session.scalars(
            select(Ask).where(
                Ask.team_id == workspace.team_id,
                Ask.status == "done",
                Ask.done_at >= start,
                Ask.done_at < end,
            )
        )
        kept = [
            ask
            for ask in done
            if ask.done_at
            and ((due := deadline(ask)) is None or ask.done_at < end_of_day(due, ask.timezone))
        ]
        return len(kept), sum(1 for ask in kept if ask.thanked_at is not None)


def count_open(db: Database, workspace: Workspace) -> int:
    with db.transaction() as session:
        return (
            session.scalar(
                select(func.count(Ask.id)).where(
                    Ask.team_id == workspace.team_id, Ask.status.in_(OPEN)
                )
            )
            or 0
        )


def record_posted(db: Database, workspace: Workspace, ask_id: int, ts: str, status: bool) -> None:
    """Remember where the ask lives in Slack once its first message is posted."""
    with db.transaction() as session:
        ask = session.scalar(select(Ask).where(Ask.team_id == workspace.team_id, Ask.id == ask_id))
        if ask is None:
            return
        if ask.thread_ts is None:
            ask.thread_ts = ts
        if status and ask.status_ts is None:
            ask.status_ts = ts
