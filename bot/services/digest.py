"""The weekly digest: who the workspace's internal advocates were since the last one.

A digest covers the time since the previous digest: from where the last one posted ended
up to its own scheduled instant (see `window`), so every appreciation is in exactly one,
whatever the schedule did in between.

Advocates are ranked by a score that rewards breadth of support: each giver's thanks count
with diminishing returns (the square root of how often they thanked), so ten thanks from
one person weigh about three, and thanks from ten people weigh ten. Only public
appreciation is named or quoted; private appreciation counts in the totals alone. Words said
in a private conversation count and name their advocate like any other, but are never quoted:
an advocate is quoted from their latest thanks said elsewhere, or is said to have been thanked
in a private conversation.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, literal, select
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services import asks
from bot.services.schedule import digest_window, week_bounds
from bot.services.settings import WorkspaceSettings
from bot.store import queries
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import Appreciation, OutboxMessage, Person, PostedDigest

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
    # Every thanks of theirs shown was said in a private conversation: no quote, but that.
    thanked_in_private: bool = False


@dataclass(frozen=True)
class Window:
    """The days one digest covers, [start, end) as UTC instants; `week` is the ISO week it is
    scheduled in, which names it."""

    week: str
    start: datetime
    end: datetime

    def until(self, instant: datetime) -> Window:
        """The window as a digest built at `instant` holds it: nothing later is in it yet."""
        return replace(self, end=max(self.start, min(self.end, instant)))


@dataclass(frozen=True)
class Digest:
    week: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    advocates: list[Advocate]
    first_timers: list[str]
    total: int
    people_thanked: int
    givers: int
    top_values: list[tuple[str, int]]
    commitments_kept: int = 0
    commitments_thanked: int = 0  # of those kept, the ones their asker thanked
    more_advocates: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def window(db: Database, workspace: Workspace, week: str, config: WorkspaceSettings) -> Window:
    """The days the digest scheduled in `week` covers.

    Once a digest of `week` is queued, the days it covered, in whichever channel. Otherwise
    from where the latest earlier digest ended (the seven days before its instant when there
    is none) up to its scheduled instant under the current schedule, never into the days of
    a later one. A digest Slack refused for good covered nothing: the next one takes its days.
    """
    zone = ZoneInfo(config.timezone)
    with db.transaction() as session:
        same = _posted(session, workspace, PostedDigest.week == week, refused_too=True)
        if same is not None:
            return Window(week, *_days(same, zone))
        before = _posted(session, workspace, PostedDigest.week < week, latest=True)
        after = _posted(session, workspace, PostedDigest.week > week)
    start, end = digest_window(
        week,
        config.digest_day,
        config.digest_time,
        zone,
        previous_end=_days(before, zone)[1] if before else None,
        next_start=_days(after, zone)[0] if after else None,
    )
    return Window(week, start, end)


def _posted(
    session: Session,
    workspace: Workspace,
    which: ColumnElement[bool],
    *,
    latest: bool = False,
    refused_too: bool = False,
) -> PostedDigest | None:
    """The workspace's earliest (or latest) queued digest among `which`."""
    query = select(PostedDigest).where(PostedDigest.team_id == workspace.team_id, which)
    if not refused_too:
        key = literal("digest:") + PostedDigest.week + literal(":") + PostedDigest.channel_id
        refused = exists().where(
            OutboxMessage.team_id == PostedDigest.team_id,
            OutboxMessage.dedupe_key == key,
            OutboxMessage.status == "failed",
        )
        query = query.where(~refused)
    order = PostedDigest.week.desc() if latest else PostedDigest.week
    return session.scalar(query.order_by(order, PostedDigest.id).limit(1))


def _days(posted: PostedDigest, zone: ZoneInfo) -> tuple[datetime, datetime]:
    if posted.starts_at is not None and posted.ends_at is not None:
        return posted.starts_at, posted.ends_at
    # Queued before the days were recorded: it covered its ISO week, as far as it went when
    # it was built.
    start, end = week_bounds(posted.week, zone)
    return start, max(start, min(end, posted.created_at))


def record(
    session: Session, workspace: Workspace, window: Window, channel: str, now: datetime
) -> None:
    """Remember the days the digest queued for `channel` covers, in the transaction that
    queues it; the first record of a week and channel stays."""
    row = {
        "team_id": workspace.team_id,
        "enterprise_id": workspace.enterprise_id,
        "week": window.week,
        "channel_id": channel,
        "starts_at": window.start,
        "ends_at": window.end,
        "created_at": now,
    }
    insert_ignoring_conflicts(session, PostedDigest, [row], ["team_id", "week", "channel_id"])


def build(db: Database, workspace: Workspace, window: Window, timezone: str) -> Digest | None:
    """The digest of the days of `window`, or None when nobody was thanked in them."""
    start, end = window.start, window.end
    if start >= end:
        return None
    with db.transaction() as session:
        # Every appreciation of the window, private included: the totals count them all.
        totals = queries.totals(session, workspace, start, end)
        if not totals.appreciations:
            return None
        values = Counter(
            v for named in queries.company_values(session, workspace, start, end) for v in named
        )
        thanks = queries.public_thanks(session, workspace, start, end)
        first_timers = queries.first_thanked_in(session, workspace, start, end)
        # People who left are not named any more; their thanks still count for others.
        gone = set(
            session.scalars(
                select(Person.user_id).where(
                    Person.team_id == workspace.team_id, Person.deleted.is_(True)
                )
            )
        )
        ranked = [place for place in ranking(thanks) if place[2] not in gone]
        top = [advocate(place) for place in ranked[:TOP_ADVOCATES]]
        shown = [_without(a, gone) for a in described(session, workspace, top, start, end)]
    kept, thanked = asks.kept_on_time(db, workspace, start, end)
    return Digest(
        week=window.week,
        timezone=timezone,
        starts_at=start,
        ends_at=end,
        advocates=shown,
        more_advocates=max(0, len(ranked) - TOP_ADVOCATES),
        first_timers=sorted(uid for uid in first_timers if uid not in gone),
        total=totals.appreciations,
        people_thanked=totals.people_thanked,
        givers=totals.givers,
        top_values=values.most_common(3),
        commitments_kept=kept,
        commitments_thanked=thanked,
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


def score(times_per_giver: Iterable[int]) -> float:
    """Each giver's thanks count as the square root of how often they thanked.

    `fsum` makes the score independent of the order the givers come in, so equal scores
    are really equal and fall through to the next rule."""
    return math.fsum(math.sqrt(n) for n in times_per_giver)


# An advocate's place: (minus their score, minus the thanks they received, their user id).
# Sorting these plain tuples is the ranking rule, and much cheaper than sorting advocates.
Place = tuple[float, int, str]


def ranking(thanks: Iterable[queries.Thanks]) -> list[Place]:
    """Advocates' places by breadth-weighted score, then by thanks received, then by id."""
    by_recipient: dict[str, list[int]] = defaultdict(list)
    for t in thanks:
        by_recipient[t.user_id] += [t.times] * t.givers
    return sorted((-score(times), -sum(times), uid) for uid, times in by_recipient.items())


def advocate(place: Place) -> Advocate:
    """The advocate at `place`, ranked only: `described` adds their givers and quote."""
    minus_score, minus_received, user_id = place
    return Advocate(
        user_id=user_id,
        score=-minus_score,
        received=-minus_received,
        givers=[],
        quote="",
        quote_giver="",
    )


def rank(thanks: Iterable[queries.Thanks]) -> list[Advocate]:
    """Advocates by breadth-weighted score, then by thanks received, then by id.

    Only the ranking is filled in; `described` adds the givers and the quote of those shown.
    """
    return [advocate(place) for place in ranking(thanks)]


def described(
    session: Session,
    workspace: Workspace,
    advocates: list[Advocate],
    since: datetime,
    until: datetime | None,
) -> list[Advocate]:
    """The advocates with their givers, most frequent first (ties: who thanked first), and
    the latest public appreciation each received in [since, until) whose words were not said
    in a private conversation as the quote (`thanked_in_private` when there is none)."""
    received = queries.public_received(
        session, workspace, [a.user_id for a in advocates], since, until
    )
    latest = {
        uid: quotable[-1]
        for uid, rows in received.items()
        if (quotable := [row.appreciation_id for row in rows if row.quotable])
    }
    quotes = {
        row.id: (row.reason, row.giver_id)
        for row in session.execute(
            select(Appreciation.id, Appreciation.reason, Appreciation.giver_id).where(
                Appreciation.team_id == workspace.team_id,
                Appreciation.id.in_(sorted(latest.values())),
            )
        )
    }
    described = []
    for advocate in advocates:
        if advocate.user_id not in received:
            described.append(advocate)
            continue
        givers = Counter(row.giver_id for row in received[advocate.user_id])
        quoted = latest.get(advocate.user_id)
        quote, quote_giver = quotes[quoted] if quoted is not None else ("", "")
        described.append(
            replace(
                advocate,
                givers=[g for g, _ in givers.most_common()],
                quote=quote,
                quote_giver=quote_giver,
                thanked_in_private=quoted is None,
            )
        )
    return described


def advocates_since(
    db: Database, workspace: Workspace, since: datetime, limit: int
) -> list[Advocate]:
    """The internal advocates from `since` on, ranked as in the digest."""
    with db.transaction() as session:
        places = ranking(queries.public_thanks(session, workspace, since, None))
        top = [advocate(place) for place in places[:limit]]
        return described(session, workspace, top, since, None)
