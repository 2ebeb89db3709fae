"""Insights: who carries whom, for a period, as the insights page shows it.

Two views. A workspace's admins see the workspace: appreciation per week, who takes part,
its internal advocates, the values cited, what became of asks, and a map of who carries
whom. Everyone else sees their own: their thanks over time, their people, their asks.

What the page may say follows the digest's rules and goes further, because a page is kept
and shared:
- private appreciation is counted in totals, never tied to a pair of people (no map edge,
  no "your people" line comes from it);
- nothing anyone wrote is shown: no reasons, no `/listen` answers; an ask's request is shown
  only on its own people's page and only when it was said in a public channel;
- forgotten people (their ids replaced, see services/lifecycle.py) and bots are absent;
- a group smaller than `SMALLEST_GROUP` is not broken out.

Every figure is a grouped query over the period: nothing reads a period row by row.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services.asks import deadline, end_of_day
from bot.services.digest import GHOST_PREFIX
from bot.store import queries
from bot.store.db import Database
from bot.store.models import AppreciationRecipient, Ask, InstalledWorkspace, Obstacle, Person

# The periods a page can cover, in whole weeks ending with the current one.
PERIODS: dict[str, int] = {"4w": 4, "quarter": 13, "year": 52}
DEFAULT_PERIOD = "4w"
SMALLEST_GROUP = 3
TOP = 10
MAP_PEOPLE = 30  # without teams, the map is of the most connected people


@dataclass(frozen=True)
class Period:
    """Whole UTC weeks, Monday to Monday: [start, end), and the same length before it."""

    name: str
    start: datetime
    end: datetime

    @property
    def weeks(self) -> list[datetime]:
        count = (self.end - self.start).days // 7
        return [self.start + timedelta(weeks=index) for index in range(count)]

    @property
    def before(self) -> Period:
        return Period(self.name, self.start - (self.end - self.start), self.start)


def period(name: str | None, now: datetime) -> Period:
    """The period called `name` (an unknown one reads as the default) ending with the week of
    `now`: the current week is in it, as far as it has gone."""
    name = name if name in PERIODS else DEFAULT_PERIOD
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    end = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) + timedelta(weeks=1)
    return Period(name, end - timedelta(weeks=PERIODS[name]), end)


@dataclass(frozen=True)
class Week:
    starts_on: date
    appreciations: int  # private included
    people_thanked: int


@dataclass(frozen=True)
class Participation:
    members: int
    gave: int
    received: int
    gave_before: int  # in the period before, for the trend
    received_before: int

    @staticmethod
    def share(part: int, whole: int) -> float:
        return part / whole if whole else 0.0


@dataclass(frozen=True)
class Advocate:
    user_id: str
    givers: int  # distinct people who thanked them in public
    received: int


@dataclass(frozen=True)
class AskFigures:
    asked: int
    committed: int
    kept_on_time: int
    kept_late: int
    declined: int
    obstacles_raised: int
    obstacles_resolved: int
    hours_to_commit: float | None  # the median, for asks committed to in the period


@dataclass(frozen=True)
class Link:
    """`source` carried `target`: `target` thanked them in public, or they kept a commitment
    to `target`. `back` is the same the other way, so a pair is drawn once."""

    source: str
    target: str
    thanks: int
    kept: int
    back: int

    @property
    def volume(self) -> int:
        return self.thanks + self.kept

    @property
    def two_way(self) -> bool:
        return self.back > 0


@dataclass(frozen=True)
class Map:
    nodes: list[str]
    links: list[Link]


@dataclass(frozen=True)
class WorkspaceInsights:
    period: Period
    weeks: list[Week]
    participation: Participation
    advocates: list[Advocate]
    values: list[tuple[str, int]]
    asks: AskFigures
    map: Map
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Colleague:
    user_id: str
    thanked: int  # how often I thanked them in public
    thanked_me: int  # how often they thanked me in public


@dataclass(frozen=True)
class AskLine:
    role: str  # "asked" (I asked them) | "helping" (they asked me)
    colleague_id: str
    request: str | None  # None when it was said where it must not be repeated
    status: str
    due_on: date | None
    kept_on_time: bool | None


@dataclass(frozen=True)
class PersonalWeek:
    starts_on: date
    given: int
    received: int


@dataclass(frozen=True)
class PersonalInsights:
    period: Period
    user_id: str
    weeks: list[PersonalWeek]
    people: list[Colleague]
    asks: list[AskLine]
    names: dict[str, str] = field(default_factory=dict)


# The workspace page.


def for_workspace(db: Database, workspace: Workspace, chosen: Period) -> WorkspaceInsights:
    with db.transaction() as session:
        weeks = _weeks(session, workspace, chosen)
        participation = _participation(session, workspace, chosen)
        advocates = _advocates(session, workspace, chosen)
        values = _values(session, workspace, chosen)
        ask_figures = _ask_figures(session, workspace, chosen)
        people_map = _people_map(session, workspace, chosen)
        shown = {a.user_id for a in advocates} | set(people_map.nodes)
        names = _names(session, workspace, shown)
    return WorkspaceInsights(
        chosen, weeks, participation, advocates, values, ask_figures, people_map, names
    )


def _in(workspace: Workspace, chosen: Period) -> list[ColumnElement[bool]]:
    r = AppreciationRecipient
    return [r.team_id == workspace.team_id, r.created_at >= chosen.start, r.created_at < chosen.end]


def _week_of(column: Any, chosen: Period) -> ColumnElement[int]:
    """The index of the week `column` falls in: a CASE over the period's Mondays, the same
    on every database."""
    bounds = [*chosen.weeks[1:], chosen.end]
    return case(*((column < bound, index) for index, bound in enumerate(bounds)), else_=-1)


def _weeks(session: Session, workspace: Workspace, chosen: Period) -> list[Week]:
    r = AppreciationRecipient
    week = _week_of(r.created_at, chosen).label("week")
    rows = session.execute(
        select(
            week, func.count(func.distinct(r.appreciation_id)), func.count(func.distinct(r.user_id))
        )
        .where(*_in(workspace, chosen))
        .group_by(week)
    ).all()
    counted = {index: (appreciations, people) for index, appreciations, people in rows}
    return [
        Week(monday.date(), *counted.get(index, (0, 0)))
        for index, monday in enumerate(chosen.weeks)
    ]


def _members(workspace: Workspace) -> ColumnElement[bool]:
    return and_(
        Person.team_id == workspace.team_id,
        Person.is_bot.is_(False),
        Person.deleted.is_(False),
        ~Person.user_id.startswith(GHOST_PREFIX),
    )


def _participation(session: Session, workspace: Workspace, chosen: Period) -> Participation:
    r = AppreciationRecipient
    member = select(Person.user_id).where(_members(workspace))

    def took_part(column: Any, span: Period) -> int:
        return (
            session.scalar(
                select(func.count(func.distinct(column))).where(
                    *_in(workspace, span), column.in_(member)
                )
            )
            or 0
        )

    members = session.scalar(select(func.count()).where(_members(workspace))) or 0
    return Participation(
        members,
        took_part(r.giver_id, chosen),
        took_part(r.user_id, chosen),
        took_part(r.giver_id, chosen.before),
        took_part(r.user_id, chosen.before),
    )


def _advocates(session: Session, workspace: Workspace, chosen: Period) -> list[Advocate]:
    """Who was thanked in public by the most people; private appreciation never ranks."""
    r = AppreciationRecipient
    givers = func.count(func.distinct(r.giver_id))
    rows = session.execute(
        select(r.user_id, givers, func.count())
        .where(
            *_in(workspace, chosen), r.is_private.is_(False), ~r.user_id.startswith(GHOST_PREFIX)
        )
        .group_by(r.user_id)
        .order_by(givers.desc(), func.count().desc(), r.user_id)
        .limit(TOP)
    ).all()
    return [Advocate(user_id, int(g), int(n)) for user_id, g, n in rows]


def _values(session: Session, workspace: Workspace, chosen: Period) -> list[tuple[str, int]]:
    """The company values cited, most cited first (private appreciation counts: a value is
    the workspace's own word, not anybody's)."""
    cited: dict[str, int] = {}
    for values in queries.company_values(session, workspace, chosen.start, chosen.end):
        for value in values if isinstance(values, list) else []:
            cited[value] = cited.get(value, 0) + 1
    return sorted(cited.items(), key=lambda item: (-item[1], item[0]))[:TOP]


def _ask_figures(session: Session, workspace: Workspace, chosen: Period) -> AskFigures:
    asks = session.execute(
        select(
            Ask.status,
            Ask.due_on,
            Ask.committed_on,
            Ask.timezone,
            Ask.created_at,
            Ask.committed_at,
            Ask.done_at,
        ).where(
            Ask.team_id == workspace.team_id,
            Ask.created_at >= chosen.start,
            Ask.created_at < chosen.end,
        )
    ).all()
    kept_on_time = kept_late = 0
    hours: list[float] = []
    for status, due_on, committed_on, timezone, created_at, committed_at, done_at in asks:
        if committed_at is not None:
            hours.append((committed_at - created_at).total_seconds() / 3600)
        if status == "done" and done_at is not None:
            due = committed_on or due_on
            if due is None or done_at < end_of_day(due, timezone):
                kept_on_time += 1
            else:
                kept_late += 1
    o = Obstacle
    raised, resolved = session.execute(
        select(func.count(), func.count(o.resolved_at)).where(
            o.team_id == workspace.team_id, o.created_at >= chosen.start, o.created_at < chosen.end
        )
    ).one()
    return AskFigures(
        asked=len(asks),
        committed=len(hours),
        kept_on_time=kept_on_time,
        kept_late=kept_late,
        declined=sum(1 for row in asks if row.status == "declined"),
        obstacles_raised=int(raised),
        obstacles_resolved=int(resolved),
        hours_to_commit=statistics.median(hours) if hours else None,
    )


def _carried(workspace: Workspace, chosen: Period) -> Any:
    """One row per way someone carried someone in the period: (carrier, carried, thanks,
    kept). Public thanks: the recipient carried the giver. A kept commitment: the helper
    carried the asker."""
    r = AppreciationRecipient
    thanks = select(
        r.user_id.label("carrier"),
        r.giver_id.label("carried"),
        literal(1).label("thanks"),
        literal(0).label("kept"),
    ).where(*_in(workspace, chosen), r.is_private.is_(False))
    kept = select(
        Ask.helper_id.label("carrier"),
        Ask.asker_id.label("carried"),
        literal(0).label("thanks"),
        literal(1).label("kept"),
    ).where(
        Ask.team_id == workspace.team_id,
        Ask.status == "done",
        Ask.done_at >= chosen.start,
        Ask.done_at < chosen.end,
    )
    return union_all(thanks, kept).subquery("carried")


def _people_map(session: Session, workspace: Workspace, chosen: Period) -> Map:
    """The `MAP_PEOPLE` people most connected by carrying, and who carried whom among them."""
    carried = _carried(workspace, chosen)
    person = union_all(
        select(carried.c.carrier.label("user_id"), (carried.c.thanks + carried.c.kept).label("n")),
        select(carried.c.carried.label("user_id"), (carried.c.thanks + carried.c.kept).label("n")),
    ).subquery("person")
    member = select(Person.user_id).where(_members(workspace))
    total = func.sum(person.c.n)
    nodes = list(
        session.scalars(
            select(person.c.user_id)
            .where(person.c.user_id.in_(member))
            .group_by(person.c.user_id)
            .order_by(total.desc(), person.c.user_id)
            .limit(MAP_PEOPLE)
        )
    )
    if not nodes:
        return Map([], [])
    pairs = session.execute(
        select(
            carried.c.carrier,
            carried.c.carried,
            func.sum(carried.c.thanks),
            func.sum(carried.c.kept),
        )
        .where(
            carried.c.carrier.in_(nodes),
            carried.c.carried.in_(nodes),
            carried.c.carrier != carried.c.carried,
        )
        .group_by(carried.c.carrier, carried.c.carried)
    ).all()
    return Map(nodes, _links({(a, b): (int(t), int(k)) for a, b, t, k in pairs}))


def _links(volumes: dict[tuple[str, str], tuple[int, int]]) -> list[Link]:
    """Each pair once, its bigger direction first, biggest pairs first."""
    links: list[Link] = []
    for (source, target), (thanks, kept) in volumes.items():
        back_thanks, back_kept = volumes.get((target, source), (0, 0))
        mine, theirs = thanks + kept, back_thanks + back_kept
        if (mine, target) < (theirs, source):
            continue  # drawn from the other side
        links.append(Link(source, target, thanks, kept, theirs))
    return sorted(links, key=lambda link: (-link.volume - link.back, link.source, link.target))


def _names(session: Session, workspace: Workspace, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    rows = session.execute(
        select(Person.user_id, Person.name).where(
            Person.team_id == workspace.team_id, Person.user_id.in_(sorted(user_ids))
        )
    ).all()
    return {user_id: name for user_id, name in rows if name}


# A person's own page.


def for_person(
    db: Database, workspace: Workspace, user_id: str, chosen: Period
) -> PersonalInsights:
    """What `user_id` may see of themselves: their own appreciation counts (private
    included: they are one of its two people), their people from public thanks, and their
    asks."""
    with db.transaction() as session:
        weeks = _personal_weeks(session, workspace, user_id, chosen)
        people = _colleagues(session, workspace, user_id, chosen)
        ask_lines = _ask_lines(session, workspace, user_id, chosen)
        shown = {c.user_id for c in people} | {a.colleague_id for a in ask_lines}
        names = _names(session, workspace, shown | {user_id})
    return PersonalInsights(chosen, user_id, weeks, people, ask_lines, names)


def _personal_weeks(
    session: Session, workspace: Workspace, user_id: str, chosen: Period
) -> list[PersonalWeek]:
    r = AppreciationRecipient
    week = _week_of(r.created_at, chosen).label("week")
    given = func.count(func.distinct(case((r.giver_id == user_id, r.appreciation_id))))
    received = func.sum(case((r.user_id == user_id, 1), else_=0))
    rows = session.execute(
        select(week, given, received)
        .where(*_in(workspace, chosen), or_(r.giver_id == user_id, r.user_id == user_id))
        .group_by(week)
    ).all()
    counted = {index: (int(g), int(n or 0)) for index, g, n in rows}
    return [
        PersonalWeek(monday.date(), *counted.get(index, (0, 0)))
        for index, monday in enumerate(chosen.weeks)
    ]


def _colleagues(
    session: Session, workspace: Workspace, user_id: str, chosen: Period
) -> list[Colleague]:
    r = AppreciationRecipient
    public = [*_in(workspace, chosen), r.is_private.is_(False)]
    colleague = case((r.giver_id == user_id, r.user_id), else_=r.giver_id).label("colleague")
    thanked = func.sum(case((r.giver_id == user_id, 1), else_=0))
    thanked_me = func.sum(case((r.user_id == user_id, 1), else_=0))
    rows = session.execute(
        select(colleague, thanked, thanked_me)
        .where(*public, or_(r.giver_id == user_id, r.user_id == user_id), r.giver_id != r.user_id)
        .group_by(colleague)
        .order_by((thanked + thanked_me).desc(), colleague)
        .limit(TOP * 2)
    ).all()
    return [
        Colleague(uid, int(a), int(b)) for uid, a, b in rows if not uid.startswith(GHOST_PREFIX)
    ][:TOP]


def _ask_lines(
    session: Session, workspace: Workspace, user_id: str, chosen: Period
) -> list[AskLine]:
    asks = session.scalars(
        select(Ask)
        .where(
            Ask.team_id == workspace.team_id,
            or_(Ask.asker_id == user_id, Ask.helper_id == user_id),
            Ask.created_at >= chosen.start,
            Ask.created_at < chosen.end,
        )
        .order_by(Ask.created_at.desc(), Ask.id.desc())
        .limit(TOP * 2)
    )
    lines: list[AskLine] = []
    for ask in asks:
        asked = ask.asker_id == user_id
        colleague = ask.helper_id if asked else ask.asker_id
        if colleague.startswith(GHOST_PREFIX):
            continue
        kept: bool | None = None
        if ask.status == "done" and ask.done_at is not None:
            due = deadline(ask)
            kept = due is None or ask.done_at < end_of_day(due, ask.timezone)
        lines.append(
            AskLine(
                "asked" if asked else "helping",
                colleague,
                ask.request if ask.said_in_private is False else None,
                ask.status,
                ask.committed_on or ask.due_on,
                kept,
            )
        )
    return lines[:TOP]


def workspace_name(db: Database, workspace: Workspace) -> str:
    """The workspace's name as Slack last gave it, or its id."""
    with db.transaction() as session:
        name = session.scalar(
            select(InstalledWorkspace.name).where(InstalledWorkspace.team_id == workspace.team_id)
        )
    return name or workspace.team_id
