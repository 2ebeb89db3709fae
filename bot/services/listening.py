"""`/listen`: ask a colleague privately what they need from you, hear it, act on it.

Each question is one `Listen` row per colleague. Every step after it (answer, not now,
"I'll act on it", the check-in's "Did you act on it?") is a compare-and-set on that row, so
a double click or a retried request changes it once; the messages each step owes are
queued in the outbox under keys of the row, so a retry sends none of them twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain import PersonInfo, Workspace
from bot.errors import UserError
from bot.store.db import Database
from bot.store.models import Listen

MAX_PEOPLE = 5
MAX_TOPIC = 300
MAX_ANSWER = 2000
# An unanswered question blocks asking the same person again for this long.
WAIT = timedelta(days=7)
# The check-in asks "Did you act on it?" until the third "Not yet".
NOT_YET_LIMIT = 3
FOLLOWUP_EVENTS = {"yes": "acted", "skip": "skipped"}

_LEADING = re.compile(r"\s*<([@!][^<>]*)>\s*")
_PERSON = re.compile(r"@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?")

USAGE = (
    "*Listen first.* `/listen @ana` asks Ana, privately, what she needs from you to do her "
    "best work; add what it's about if you like: `/listen @ana about the quarterly close`. "
    "Her answer comes to you alone, and your check-in asks later whether you acted on it. "
    "Up to 5 people at once."
)


@dataclass(frozen=True)
class Request:
    colleague_ids: list[str]
    topic: str | None


def parse(text: str) -> Request:
    """`<@U1> <@U2> [about what]` -> the colleagues and the topic. Raises UserError."""
    colleagues: list[str] = []
    rest = text
    while match := _LEADING.match(rest):
        person = _PERSON.fullmatch(match.group(1))
        if person is None:
            raise UserError(
                "Listening is one person at a time: name each colleague with @, not a group "
                "or a whole channel. `/listen @ana @ben`"
            )
        if person.group(1) not in colleagues:
            colleagues.append(person.group(1))
        rest = rest[match.end() :]
    if not colleagues:
        raise UserError(
            "Whose needs do you want to hear? Start with their @name: `/listen @ana about the "
            "quarterly close`"
        )
    if len(colleagues) > MAX_PEOPLE:
        raise UserError(
            f"That's {len(colleagues)} people. Listening works best one person at a time: "
            f"ask at most {MAX_PEOPLE} at once."
        )
    topic = re.sub(r"\s+", " ", rest).strip()
    if len(topic) > MAX_TOPIC:
        raise UserError(f"Say what it's about in under {MAX_TOPIC} characters.")
    return Request(colleagues, topic or None)


def check_people(
    asker_id: str, colleague_ids: list[str], lookup: Callable[[str], PersonInfo | None]
) -> None:
    """Refuse yourself, bots, leavers and people Slack doesn't know. Raises UserError."""
    if asker_id in colleague_ids:
        raise UserError("You can't ask yourself. Whose needs do you want to hear? `/listen @ana`")
    for colleague_id in colleague_ids:
        person = lookup(colleague_id)
        if person is None:
            raise UserError(f"I couldn't find <@{colleague_id}> in this workspace.")
        if person.is_bot:
            raise UserError(f"<@{colleague_id}> is a bot. Ask the person behind the work.")
        if person.deleted:
            raise UserError(f"<@{colleague_id}> is no longer active here.")


def _open_key(asker_id: str, colleague_id: str) -> str:
    return f"{asker_id}:{colleague_id}"


def start(
    db: Database,
    workspace: Workspace,
    *,
    asker_id: str,
    request: Request,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> list[Listen]:
    """Record the question to each colleague, or none of them (UserError): one still waits
    for an answer from a week ago or less. A repeat of `source_key` returns its rows."""
    try:
        return _start(db, workspace, asker_id, request, source_key, now, zone)
    except IntegrityError:
        # Another request took an open slot first: the same submission (return its rows)
        # or another question to the same person (refused, with when it was sent).
        return _start(db, workspace, asker_id, request, source_key, now, zone)


def _start(
    db: Database,
    workspace: Workspace,
    asker_id: str,
    request: Request,
    source_key: str,
    now: datetime,
    zone: ZoneInfo,
) -> list[Listen]:
    team = workspace.team_id
    keys = {_open_key(asker_id, c): c for c in request.colleague_ids}
    with db.transaction() as session:
        mine = list(
            session.scalars(
                select(Listen)
                .where(Listen.team_id == team, Listen.source_key == source_key)
                .order_by(Listen.id)
            )
        )
        if mine:
            return mine
        session.execute(
            update(Listen)
            .where(
                Listen.team_id == team,
                Listen.open_key.in_(list(keys)),
                Listen.created_at <= now - WAIT,
            )
            .values(open_key=None)
            .execution_options(synchronize_session=False)
        )
        waiting = session.scalars(
            select(Listen)
            .where(Listen.team_id == team, Listen.open_key.in_(list(keys)))
            .order_by(Listen.created_at)
        ).first()
        if waiting is not None:
            raise UserError(_still_waiting(waiting, zone))
        rows = [
            Listen(
                team_id=team,
                enterprise_id=workspace.enterprise_id,
                asker_id=asker_id,
                colleague_id=colleague_id,
                topic=request.topic,
                status="asked",
                open_key=key,
                followup="open",
                not_yet=0,
                source_key=source_key,
                created_at=now,
            )
            for key, colleague_id in keys.items()
        ]
        session.add_all(rows)
        session.flush()
        return rows


def _still_waiting(listen: Listen, zone: ZoneInfo) -> str:
    sent = listen.created_at.astimezone(zone)
    again = (listen.created_at + WAIT).astimezone(zone)
    said = "said not now" if listen.status == "declined" else "haven't answered yet"
    return (
        f"You asked <@{listen.colleague_id}> what they need on {sent:%A %-d %B}, and they "
        f"{said}. Give them time: you can ask again from {again:%A %-d %B}, or just talk."
    )


def get(db: Database, workspace: Workspace, listen_id: int) -> Listen | None:
    with db.transaction() as session:
        return session.scalar(
            select(Listen).where(Listen.team_id == workspace.team_id, Listen.id == listen_id)
        )


def require(db: Database, workspace: Workspace, listen_id: int) -> Listen:
    listen = get(db, workspace, listen_id)
    if listen is None:
        raise UserError("I can't find that question any more.")
    return listen


def check_colleague(listen: Listen, user_id: str) -> None:
    """Only the colleague who was asked answers; raises UserError otherwise."""
    if user_id != listen.colleague_id:
        raise UserError(f"Only <@{listen.colleague_id}> can answer this.")
    if listen.status == "answered":
        raise UserError("You already answered this one. Thank you.")


def answer(
    db: Database,
    workspace: Workspace,
    listen_id: int,
    user_id: str,
    *,
    need: str,
    obstacle: str | None,
    preference: str | None,
    answer_key: str,
    now: datetime,
) -> Listen:
    """Record the colleague's answer once. A retry of the same submission (`answer_key`)
    returns the row as it answered; a second, different answer is refused (UserError)."""
    if not need.strip():
        raise UserError("Say what you need.")
    with db.transaction() as session:
        changed = session.execute(
            update(Listen)
            .where(
                Listen.team_id == workspace.team_id,
                Listen.id == listen_id,
                Listen.colleague_id == user_id,
                Listen.status.in_(("asked", "declined")),
            )
            .values(
                status="answered",
                need=need.strip()[:MAX_ANSWER],
                obstacle=(obstacle or "").strip()[:MAX_ANSWER] or None,
                preference=(preference or "").strip()[:MAX_ANSWER] or None,
                answer_key=answer_key,
                answered_at=now,
                open_key=None,
            )
            .execution_options(synchronize_session=False)
        )
    listen = require(db, workspace, listen_id)
    if getattr(changed, "rowcount", 0) != 1 and listen.answer_key != answer_key:
        check_colleague(listen, user_id)
        raise UserError("That question is closed.")
    return listen


def decline(
    db: Database, workspace: Workspace, listen_id: int, user_id: str, now: datetime
) -> Listen:
    """ "Not now": the question closes politely (it still counts as asked this week)."""
    listen = require(db, workspace, listen_id)
    check_colleague(listen, user_id)
    with db.transaction() as session:
        session.execute(
            update(Listen)
            .where(
                Listen.team_id == workspace.team_id,
                Listen.id == listen_id,
                Listen.status == "asked",
            )
            .values(status="declined", declined_at=now)
            .execution_options(synchronize_session=False)
        )
    return require(db, workspace, listen_id)


def _check_asker(listen: Listen, user_id: str) -> None:
    if user_id != listen.asker_id or listen.status != "answered":
        raise UserError("That answer isn't yours to act on.")


def will_act(
    db: Database, workspace: Workspace, listen_id: int, user_id: str, now: datetime
) -> tuple[Listen, bool]:
    """ "I'll act on it": returns the row and whether this click was the first."""
    listen = require(db, workspace, listen_id)
    _check_asker(listen, user_id)
    with db.transaction() as session:
        changed = session.execute(
            update(Listen)
            .where(
                Listen.team_id == workspace.team_id,
                Listen.id == listen_id,
                Listen.will_act_at.is_(None),
            )
            .values(will_act_at=now)
            .execution_options(synchronize_session=False)
        )
    return require(db, workspace, listen_id), getattr(changed, "rowcount", 0) == 1


def follow_up(
    db: Database,
    workspace: Workspace,
    listen_id: int,
    user_id: str,
    answer: str,
    week: str,
    now: datetime,
) -> tuple[Listen, bool]:
    """The asker's answer to "Did you act on it?" in `week`'s check-in: `yes`, `not_yet`
    or `skip`. Returns the row and whether this click changed it (a double click doesn't;
    a second "not yet" in the same week doesn't count)."""
    listen = require(db, workspace, listen_id)
    _check_asker(listen, user_id)
    where = [Listen.team_id == workspace.team_id, Listen.id == listen_id]
    # Acting on it counts whenever it happens, even after a skip or the last "not yet".
    where.append(
        Listen.followup.in_(("open", "skipped", "dropped") if answer == "yes" else ("open",))
    )
    if answer == "not_yet":
        values: dict[str, object] = {
            "not_yet": Listen.not_yet + 1,
            "followup": case((Listen.not_yet + 1 >= NOT_YET_LIMIT, "dropped"), else_="open"),
            "followup_week": week,
        }
        where.append((Listen.followup_week.is_(None)) | (Listen.followup_week != week))
    elif answer in FOLLOWUP_EVENTS:
        values = {"followup": FOLLOWUP_EVENTS[answer], "followup_week": week}
        if answer == "yes":
            values["acted_at"] = now
    else:
        raise ValueError(answer)
    with db.transaction() as session:
        changed = session.execute(
            update(Listen)
            .where(*where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return require(db, workspace, listen_id), getattr(changed, "rowcount", 0) == 1
