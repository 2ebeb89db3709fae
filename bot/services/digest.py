"""The weekly digest: who the workspace's internal advocates were this week.

Advocates are ranked by a score that rewards breadth of support: each giver's thanks count
with diminishing returns (the square root of how often they thanked), so ten thanks from
one person weigh about three, and thanks from ten people weigh ten. Only public
appreciation is named or quoted; private appreciation counts in the totals alone.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import asks
from bot.services.schedule import week_bounds
from bot.services.workspace import Workspace
from bot.store import queries
from bot.store.db import Database
from bot.store.models import Appreciation, AppreciationRecipient, Person

TOP_ADVOCATES = 5
GHOST_PREFIX = "X"  # ids that replaced a forgotten person (see services/lifecycle.py)


@dataclass(frozen=True)
class Advocate:
    user_id: str
    score: float
    received: int
    givers: list[str]
    quote: str
    quote_giver: str


@dataclass(frozen=True)
class Digest:
    week: str
    timezone: str
    advocates: list[Advocate]
    first_timers: list[str]
    total: int
    people_thanked: int
    givers: int
    top_values: list[tuple[str, int]]
    commitments_kept: int = 0
    more_advocates: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def build(db: Database, workspace: Workspace, week: str, timezone: str) -> Digest | None:
    """The digest for `week` in the workspace's timezone, or None when nobody was thanked."""
    start, end = week_bounds(week, ZoneInfo(timezone))
    with db.transaction() as session:
        rows = list(
            session.scalars(
                select(Appreciation)
                .where(
                    Appreciation.team_id == workspace.team_id,
                    Appreciation.created_at >= start,
                    Appreciation.created_at < end,
                )
                .order_by(Appreciation.created_at, Appreciation.id)
            )
        )
        if not rows:
            return None
        public = [a for a in rows if not a.is_private]
        recognised = {uid for a in public for uid in a.recipient_ids}
        earlier = set(
            session.scalars(
                select(AppreciationRecipient.user_id)
                .join(Appreciation, AppreciationRecipient.appreciation_id == Appreciation.id)
                .where(
                    Appreciation.team_id == workspace.team_id,
                    Appreciation.is_private.is_(False),
                    Appreciation.created_at < start,
                    AppreciationRecipient.user_id.in_(recognised),
                )
                .distinct()
            )
        )
    with db.transaction() as session:
        # People who left are not named any more; their thanks still count for others.
        gone = set(
            session.scalars(
                select(Person.user_id).where(
                    Person.team_id == workspace.team_id, Person.deleted.is_(True)
                )
            )
        )
    advocates = [_without(a, gone) for a in rank(public) if a.user_id not in gone]
    recognised -= gone
    kept = asks.kept_on_time(db, workspace, start, end)
    values = Counter(v for a in rows for v in a.company_values)
    return Digest(
        week=week,
        timezone=timezone,
        advocates=advocates[:TOP_ADVOCATES],
        more_advocates=max(0, len(advocates) - TOP_ADVOCATES),
        first_timers=sorted(recognised - earlier),
        total=len(rows),
        people_thanked=len({uid for a in rows for uid in a.recipient_ids}),
        givers=len({a.giver_id for a in rows}),
        top_values=values.most_common(3),
        commitments_kept=kept,
    )


def _without(advocate: Advocate, gone: set[str]) -> Advocate:
    """The advocate with people who left, or asked to be forgotten, unnamed."""

    def named(user_id: str) -> bool:
        return user_id not in gone and not user_id.startswith(GHOST_PREFIX)

    return replace(
        advocate,
        givers=[g for g in advocate.givers if named(g)],
        quote_giver=advocate.quote_giver if named(advocate.quote_giver) else "",
    )


def rank(public: list[Appreciation]) -> list[Advocate]:
    """Advocates by breadth-weighted score, then by thanks received, then by id."""
    by_recipient: dict[str, Counter[str]] = defaultdict(Counter)
    latest: dict[str, Appreciation] = {}
    for appreciation in public:
        for uid in appreciation.recipient_ids:
            by_recipient[uid][appreciation.giver_id] += 1
            latest[uid] = appreciation
    advocates = [
        Advocate(
            user_id=uid,
            score=sum(math.sqrt(n) for n in givers.values()),
            received=sum(givers.values()),
            givers=[g for g, _ in givers.most_common()],
            quote=latest[uid].reason,
            quote_giver=latest[uid].giver_id,
        )
        for uid, givers in by_recipient.items()
    ]
    advocates.sort(key=lambda a: (-a.score, -a.received, a.user_id))
    return advocates


def advocates_since(
    db: Database, workspace: Workspace, since: datetime, limit: int
) -> list[Advocate]:
    """The internal advocates from `since` on, ranked as in the digest."""
    with db.transaction() as session:
        public = queries.public_since(session, workspace, since)
    return rank(public)[:limit]
