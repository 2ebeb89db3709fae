"""Your people: the colleagues a person works with most, for their App Home.

"Works with most" is a score over the history between the person (me) and each colleague,
with these weights per thing that happened between us:

- 1 for each appreciation, either way (I appreciated them, or they appreciated me): the
  most frequent thing, and the lightest;
- 3 for each ask, either way (I asked them, or they asked me): work done together;
- 2 more for each of my asks they did (a commitment kept for me, status done): help I got;
- 4 for each `/listen` of mine they answered: a conversation about what they need from me.

Anything from the last 90 days (`LATELY`) counts twice, so the people I work with now rank
above those I worked with long ago. Ties go to the lower user id, so the order is stable.

Only history I am part of is read, so private appreciation counts here for the two people
it is between and for nobody else, and a `/listen` counts on its asker's Home alone (its
answer is theirs). Never listed: me, bots and deactivated people (by the `people` table;
someone it does not know yet is listed) and the ids that replaced forgotten people.

Two statements, however long the history: one ranks the colleagues (each kind of history
read through its index by workspace and person, one GROUP BY adding it up per colleague,
the exclusions, ORDER BY and LIMIT), the other reads what the top ones said they need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services.digest import GHOST_PREFIX
from bot.store.db import Database, UTCDateTime
from bot.store.models import Appreciation, AppreciationRecipient, Ask, Listen, Person

LATELY = timedelta(days=90)
SHOWN = 8
APPRECIATION_WEIGHT = 1
ASK_WEIGHT = 3
KEPT_WEIGHT = 2  # on top of the ask's own
LISTEN_WEIGHT = 4
RECENT_FACTOR = 2


@dataclass(frozen=True)
class Colleague:
    """One of a person's people, as their Home shows them."""

    user_id: str
    score: int
    kept_lately: int  # commitments they kept for me in the last LATELY
    thanked_lately: int  # appreciations I gave them in the last LATELY
    last_thanked_at: datetime | None  # my latest appreciation of them, ever
    need: str | None = None  # what they last told me they need from me (/listen)
    need_at: datetime | None = None


def your_people(
    db: Database, workspace: Workspace, user_id: str, now: datetime, limit: int = SHOWN
) -> list[Colleague]:
    """The `limit` colleagues `user_id` works with most, best first (see the module's
    docstring for the score); empty when they have no history with anyone yet."""
    since = now - LATELY
    history = union_all(
        _appreciated_by_me(workspace, user_id, since),
        _appreciated_me(workspace, user_id, since),
        _asked_by_me(workspace, user_id, since),
        _asked_me(workspace, user_id, since),
        _listened_to(workspace, user_id, since),
    ).subquery("history")
    per_colleague = (
        select(
            history.c.colleague_id,
            func.sum(history.c.points).label("score"),
            func.sum(history.c.kept_lately).label("kept_lately"),
            func.sum(history.c.thanked_lately).label("thanked_lately"),
            func.max(history.c.thanked_at).label("last_thanked_at"),
        )
        .where(history.c.colleague_id != user_id, ~history.c.colleague_id.startswith(GHOST_PREFIX))
        .group_by(history.c.colleague_id)
        .subquery("per_colleague")
    )
    colleague = per_colleague.c
    ranking = (
        select(
            colleague.colleague_id,
            colleague.score,
            colleague.kept_lately,
            colleague.thanked_lately,
            colleague.last_thanked_at,
        )
        .outerjoin(
            Person,
            and_(Person.team_id == workspace.team_id, Person.user_id == colleague.colleague_id),
        )
        .where(or_(Person.id.is_(None), and_(Person.is_bot.is_(False), Person.deleted.is_(False))))
        .order_by(colleague.score.desc(), colleague.colleague_id)
        .limit(limit)
    )
    with db.transaction() as session:
        rows = session.execute(ranking).all()
        needs = _latest_needs(session, workspace, user_id, [row[0] for row in rows])
    return [
        Colleague(uid, int(points), int(kept), int(thanked), last, *needs.get(uid, (None, None)))
        for uid, points, kept, thanked, last in rows
    ]


# Each of these is one row per thing that happened between me and a colleague: who, the
# points it is worth, whether it is a commitment kept for me lately or my appreciation of
# them lately, and when I appreciated them. Grouping is left to the query that adds them up:
# grouped one by one, SQLite (before its first ANALYZE) read each through the index that
# orders by colleague, scanning the whole workspace's asks, rather than the person's own.


def _points(weight: int, at: Any, since: datetime) -> ColumnElement[int]:
    """What one thing at `at` is worth: `weight`, RECENT_FACTOR times if it was lately."""
    return case((at >= since, weight * RECENT_FACTOR), else_=weight)


def _one_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


ZERO = literal_column("0", Integer)
NEVER = cast(null(), UTCDateTime())
# A row of history: colleague, points, kept lately, thanked lately, thanked at.
History = Select[str, int, int, int, datetime]


def _appreciated_by_me(workspace: Workspace, user_id: str, since: datetime) -> History:
    """My appreciations, once per colleague they went to: `ix_appreciations_team_giver_created`,
    then each one's recipients by its id. The workspace is the appreciation's, so its
    recipients' too: naming it on them as well made PostgreSQL, before its first ANALYZE,
    intersect every appreciation's recipients with the whole workspace's (7 s for 10,000).
    It comes first in the union, which takes its column types."""
    at = Appreciation.created_at
    return (
        select(
            AppreciationRecipient.user_id.label("colleague_id"),
            _points(APPRECIATION_WEIGHT, at, since).label("points"),
            ZERO.label("kept_lately"),
            _one_if(at >= since).label("thanked_lately"),
            at.label("thanked_at"),
        )
        .join_from(
            Appreciation,
            AppreciationRecipient,
            AppreciationRecipient.appreciation_id == Appreciation.id,
        )
        .where(Appreciation.team_id == workspace.team_id, Appreciation.giver_id == user_id)
    )


def _appreciated_me(workspace: Workspace, user_id: str, since: datetime) -> History:
    """Their appreciations of me (`ix_appreciation_recipients_team_user_created`)."""
    return select(
        AppreciationRecipient.giver_id,
        _points(APPRECIATION_WEIGHT, AppreciationRecipient.created_at, since),
        ZERO,
        ZERO,
        NEVER,
    ).where(
        AppreciationRecipient.team_id == workspace.team_id,
        AppreciationRecipient.user_id == user_id,
    )


def _asked_by_me(workspace: Workspace, user_id: str, since: datetime) -> History:
    """My asks of them, and the commitments they kept for me (`ix_asks_team_asker`)."""
    done = Ask.status == "done"
    return select(
        Ask.helper_id,
        _points(ASK_WEIGHT, Ask.created_at, since)
        + case((done, _points(KEPT_WEIGHT, Ask.done_at, since)), else_=0),
        _one_if(and_(done, Ask.done_at >= since)),
        ZERO,
        NEVER,
    ).where(Ask.team_id == workspace.team_id, Ask.asker_id == user_id)


def _asked_me(workspace: Workspace, user_id: str, since: datetime) -> History:
    """Their asks of me (`ix_asks_team_helper`)."""
    return select(
        Ask.asker_id, _points(ASK_WEIGHT, Ask.created_at, since), ZERO, ZERO, NEVER
    ).where(Ask.team_id == workspace.team_id, Ask.helper_id == user_id)


def _listened_to(workspace: Workspace, user_id: str, since: datetime) -> History:
    """My `/listen`s they answered (`ix_listens_team_asker`)."""
    return select(
        Listen.colleague_id, _points(LISTEN_WEIGHT, Listen.answered_at, since), ZERO, ZERO, NEVER
    ).where(
        Listen.team_id == workspace.team_id,
        Listen.asker_id == user_id,
        Listen.status == "answered",
    )


def _latest_needs(
    session: Session, workspace: Workspace, user_id: str, colleague_ids: Sequence[str]
) -> dict[str, tuple[str, datetime | None]]:
    """Per colleague in `colleague_ids`: their latest answer to my `/listen`, and when."""
    if not colleague_ids:
        return {}
    latest = func.row_number().over(
        partition_by=Listen.colleague_id,
        order_by=(Listen.answered_at.desc(), Listen.id.desc()),
    )
    answers = (
        select(Listen.colleague_id, Listen.need, Listen.answered_at, latest.label("nth"))
        .where(
            Listen.team_id == workspace.team_id,
            Listen.asker_id == user_id,
            Listen.status == "answered",
            Listen.need.is_not(None),
            Listen.colleague_id.in_(sorted(colleague_ids)),
        )
        .subquery()
    )
    query = select(answers.c.colleague_id, answers.c.need, answers.c.answered_at).where(
        answers.c.nth == 1
    )
    return {uid: (need, at) for uid, need, at in session.execute(query)}
