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

Every figure is a grouped query. What happened in closed weeks is read from the tallies
kept of them (services/insight_tallies.py): a page of the year reads a few thousand rows, not
a year of history. Pairs of people (a team's page, a person's own, the map of a workspace
without teams) are read from history through the givers' and recipients' indexes.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services import insight_tallies as tallies
from bot.services.asks import deadline, end_of_day
from bot.services.digest import GHOST_PREFIX
from bot.services.insight_tallies import OTHERS, SMALLEST_GROUP, TeamView
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    InsightTeamWeek,
    InsightWeek,
    InstalledWorkspace,
    Obstacle,
    Person,
    TeamMember,
)

# The periods a page can cover, in whole weeks ending with the current one.
PERIODS: dict[str, int] = {"4w": 4, "quarter": 13, "year": 52}
DEFAULT_PERIOD = "4w"
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
    """Who carried whom: teams (user groups, and `OTHERS` for people in none) when the
    workspace has teams, else its most connected people."""

    of_teams: bool
    nodes: list[str]
    links: list[Link]
    # (carrier, carried) -> (thanks, kept), every direction that happened.
    directed: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def leaning(self) -> list[tuple[str, str, int]]:
        """(who leans, on whom, commitments kept for them) where who leans never thanked
        them in public."""
        return sorted(
            (
                (carried, carrier, kept)
                for (carrier, carried), (thanks, kept) in self.directed.items()
                if kept and not thanks
            ),
            key=lambda row: (-row[2], row[0], row[1]),
        )

    def unthanked(self) -> list[str]:
        """The nodes nobody outside them thanked in public."""
        thanked = {carrier for (carrier, _), (thanks, _) in self.directed.items() if thanks}
        return [node for node in self.nodes if node not in thanked]


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
    teams: list[TeamView] = field(default_factory=list)  # the teams that can be chosen
    team: TeamView | None = None  # the one chosen
    # For a team: the colleagues outside it who carried its people most, and how often.
    relied_on: list[tuple[str, int]] = field(default_factory=list)


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


class NoSuchTeam(LookupError):
    """The team asked for is not one here, or too small to be broken out."""


def for_workspace(
    db: Database,
    workspace: Workspace,
    chosen: Period,
    team: str | None,
    now: datetime,
) -> WorkspaceInsights:
    """The workspace's figures for `chosen`, as of `now`; with `team` (a user group's id),
    those of its people, and who outside it they rely on. Raises NoSuchTeam."""
    with db.transaction() as session:
        teams = tallies.shown_teams(session, workspace)
    picked = next((t for t in teams if t.group_id == team), None)
    if team and picked is None:
        raise NoSuchTeam(team)
    # The closed weeks are read from their tallies, worked out first where they are not.
    split = _closed_until(chosen, now)
    before = chosen.before
    tallies.ensure(db, workspace, tallies.PEOPLE, before.start, chosen.end, now)
    if teams:
        tallies.ensure(db, workspace, tallies.TEAMS, chosen.start, chosen.end, now)
        tallies.team_span(
            db,
            workspace,
            MAP,
            chosen.start,
            split,
            lambda session, start, end: _map_counts(session, workspace, start, end),
        )
    tallies.span(db, workspace, chosen.start, split, now)
    tallies.span(db, workspace, before.start, min(before.end, split), now)
    who = _people_of(workspace, picked.group_id) if picked else None
    if picked is not None:
        tallies.team_span(
            db,
            workspace,
            picked.group_id,
            chosen.start,
            split,
            lambda session, start, end: _team_counts(session, workspace, who, start, end),
        )
    with db.transaction() as session:
        theirs = None if who is None else set(session.connection().scalars(who))
        # The weeks not closed yet, from history: read once, for every figure.
        live = (
            session.connection()
            .execute(tallies.people_rows(session, workspace, split, chosen.end, totals=False))
            .all()
        )
        sums = tallies.add_rows({}, tallies.span_rows(session, workspace, chosen.start, split))
        tallies.add_rows(sums, (row[1:] for row in live))
        sums_before = tallies.add_rows(
            {}, tallies.span_rows(session, workspace, before.start, min(before.end, split))
        )
        weeks = _weeks(session, workspace, chosen, split, live, theirs)
        participation = _participation(session, workspace, sums, sums_before, who)
        advocates = _advocates(sums, theirs)
        if picked is None:
            values = _values(session, workspace, chosen, now)
            relied_on = []
        else:
            counts = tallies.team_span_rows(
                session, workspace, picked.group_id, chosen.start, split
            )
            for key, n in _team_counts(session, workspace, who, split, chosen.end).items():
                counts[key] = counts.get(key, 0) + n
            values, relied_on = _top(counts, "value"), _top(counts, "carrier")
        ask_figures = _ask_figures(session, workspace, chosen, who)
        if teams:
            carried_map = _team_map(session, workspace, chosen, split, teams)
        else:
            carried_map = _people_map(session, workspace, chosen)
        shown = {a.user_id for a in advocates} | {uid for uid, _ in relied_on}
        if not carried_map.of_teams:
            shown |= set(carried_map.nodes)
        names = _names(session, workspace, shown)
    names |= {t.group_id: t.name for t in teams} | {OTHERS: "Others (in no team)"}
    return WorkspaceInsights(
        chosen,
        weeks,
        participation,
        advocates,
        values,
        ask_figures,
        carried_map,
        names,
        teams,
        picked,
        relied_on,
    )


def _closed_until(chosen: Period, now: datetime) -> datetime:
    """Where the period's closed weeks end: before it, they are read from their tallies;
    from it, from history. A period is at least two weeks long, so the period before it is
    closed whole."""
    return min(max(tallies.closed_before(now), chosen.start), chosen.end)


def _per_week(chosen: Period, rows: Iterable[Any]) -> list[tuple[date, list[int]]]:
    """(week, first, second) rows summed into each week of the period, in order. A week is
    its Monday as the tallies give it (a date, or text on SQLite: its first ten characters)."""
    place = {monday.date().isoformat(): index for index, monday in enumerate(chosen.weeks)}
    counted = [[0, 0] for _ in chosen.weeks]
    for monday, first, second in rows:
        index = place.get(str(monday)[:10])
        if index is not None:
            counted[index][0] += int(first)
            counted[index][1] += int(second)
    return [(monday.date(), counted[index]) for index, monday in enumerate(chosen.weeks)]


def _weeks(
    session: Session,
    workspace: Workspace,
    chosen: Period,
    split: datetime,
    live: Sequence[Any],
    theirs: set[str] | None,
) -> list[Week]:
    """Per week: the appreciation given (private included) and how many were thanked; for a
    team, what its people gave and how many of them were thanked."""
    w = InsightWeek
    closed = [w.team_id == workspace.team_id, w.week >= chosen.start.date(), w.week < split.date()]
    if theirs is None:
        # Each week's totals: its row for user "".
        kept = (
            session.connection()
            .execute(select(w.week, w.given, w.received).where(*closed, w.user_id == ""))
            .all()
        )
        rows = [(week, given, received) for week, given, received in kept]
        # The weeks not closed yet: summed here from their people (each appreciation has
        # one giver; a person thanked counts once).
        rows += [(row.week, row.given, 1 if row.received else 0) for row in live]
    else:
        kept = (
            session.connection()
            .execute(
                select(w.week, w.given, w.received).where(*closed, w.user_id.in_(sorted(theirs)))
            )
            .all()
        )
        rows = [(week, given, 1 if received else 0) for week, given, received in kept]
        rows += [
            (row.week, row.given, 1 if row.received else 0) for row in live if row.user_id in theirs
        ]
    return [Week(monday, *counts) for monday, counts in _per_week(chosen, rows)]


def _participation(
    session: Session,
    workspace: Workspace,
    sums: tallies.PersonSums,
    sums_before: tallies.PersonSums,
    who: Any,
) -> Participation:
    among = [tallies.members(workspace)] + ([] if who is None else [Person.user_id.in_(who)])
    members = set(session.connection().scalars(select(Person.user_id).where(*among)))

    def took_part(found: tallies.PersonSums, column: int) -> int:
        return sum(1 for user_id in members if found.get(user_id, (0, 0))[column] > 0)

    return Participation(
        len(members),
        took_part(sums, 0),
        took_part(sums, 1),
        took_part(sums_before, 0),
        took_part(sums_before, 1),
    )


def _advocates(sums: tallies.PersonSums, theirs: set[str] | None) -> list[Advocate]:
    """Who (of `theirs`) was thanked in public by the most people, counted week by week (who
    thanked them in two weeks counts twice); private appreciation never ranks."""
    ranked = heapq.nsmallest(
        TOP,
        (
            (-givers, -public, user_id)
            for user_id, (_, _, public, givers) in sums.items()
            if public > 0
            and not user_id.startswith(GHOST_PREFIX)
            and (theirs is None or user_id in theirs)
        ),
    )
    return [Advocate(user_id, -givers, -public) for givers, public, user_id in ranked]


def _values(
    session: Session, workspace: Workspace, chosen: Period, now: datetime
) -> list[tuple[str, int]]:
    """The company values cited, most cited first (private appreciation counts: a value is
    the workspace's own word, not anybody's)."""
    rows = tallies.values(session, workspace, chosen.start, chosen.end, now)
    cited = func.sum(rows.c.cited)
    found = (
        session.connection()
        .execute(
            select(rows.c.value, cited)
            .group_by(rows.c.value)
            .order_by(cited.desc(), rows.c.value)
            .limit(TOP)
        )
        .all()
    )
    return [(str(value), int(count)) for value, count in found]


def _team_counts(
    session: Session, workspace: Workspace, who: Any, start: datetime, end: datetime
) -> tallies.TeamCounts:
    """For a team's page, of [start, end): the values its people cited, and the colleagues
    outside it who carried its people (those they thanked in public, and those who kept a
    commitment to them). Read from history by the givers' index: a team's own rows."""
    a, r = Appreciation, AppreciationRecipient
    theirs = [a.team_id == workspace.team_id, a.giver_id.in_(who), a.created_at >= start]
    theirs.append(a.created_at < end)
    listed = tallies.values_cited(session)
    values = (
        session.connection()
        .execute(
            select(listed.c.value, func.count())
            .select_from(a)
            .join(listed, true())
            .where(*theirs, cast(a.company_values, String) != "[]")
            .group_by(listed.c.value)
        )
        .all()
    )
    thanks = (
        select(r.user_id.label("carrier"), func.count().label("n"))
        .select_from(a)
        .join(r, and_(r.appreciation_id == a.id, r.team_id == a.team_id))
        .where(*theirs, a.is_private.is_(False))
        .group_by(r.user_id)
    )
    kept = (
        select(Ask.helper_id.label("carrier"), func.count().label("n"))
        .where(
            Ask.team_id == workspace.team_id,
            Ask.asker_id.in_(who),
            Ask.status == "done",
            Ask.done_at >= start,
            Ask.done_at < end,
        )
        .group_by(Ask.helper_id)
    )
    both = union_all(thanks, kept).subquery("both")
    carriers = (
        session.connection()
        .execute(
            select(both.c.carrier, func.sum(both.c.n))
            .where(~both.c.carrier.in_(who), both.c.carrier.in_(tallies.member_ids(workspace)))
            .group_by(both.c.carrier)
        )
        .all()
    )
    counts = {("value", str(value)): int(n) for value, n in values}
    return counts | {("carrier", carrier): int(n) for carrier, n in carriers}


def _top(counts: tallies.TeamCounts, kind: str) -> list[tuple[str, int]]:
    return heapq.nsmallest(
        TOP,
        ((key, n) for (k, key), n in counts.items() if k == kind),
        key=lambda kn: (-kn[1], kn[0]),
    )


def _epoch(column: Any, session: Session) -> ColumnElement[Any]:
    """Seconds since 1970 of a stored instant, as a plain number: thousands of asks are
    compared without making a datetime of each."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _ask_figures(session: Session, workspace: Workspace, chosen: Period, who: Any) -> AskFigures:
    theirs = [] if who is None else [or_(Ask.asker_id.in_(who), Ask.helper_id.in_(who))]
    in_period = [
        Ask.team_id == workspace.team_id,
        Ask.created_at >= chosen.start,
        Ask.created_at < chosen.end,
        *theirs,
    ]
    read = session.connection()
    done_in_period = [*in_period, Ask.status == "done", Ask.done_at.is_not(None)]
    asked, declined, committed = read.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Ask.status == "declined", 1))), 0),
            func.count(Ask.committed_at),
        ).where(*in_period)
    ).one()
    # The median wait, by the database: the middle one or two of the sorted waits.
    waited = (_epoch(Ask.committed_at, session) - _epoch(Ask.created_at, session)) / 3600.0
    middle = (
        [
            float(hours)
            for hours in read.scalars(
                select(waited)
                .where(*in_period, Ask.committed_at.is_not(None))
                .order_by(waited)
                .offset((committed - 1) // 2)
                .limit(2 - committed % 2)
            )
        ]
        if committed
        else []
    )
    # Kept on time: done before the end of the day it was due, where it was due. No
    # timezone is more than 14 hours ahead of UTC or 12 behind, so only asks done within
    # those hours of the day's end in UTC need their own timezone's answer; the database
    # counts the rest.
    due = func.coalesce(Ask.committed_on, Ask.due_on)
    day_ends = _epoch(due, session) + 86400
    done_at = _epoch(Ask.done_at, session)
    early, late = day_ends - 14 * 3600, day_ends + 12 * 3600
    done, sure_on_time = read.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((due.is_(None), 1), (done_at < early, 1), else_=0)), 0),
        ).where(*done_in_period)
    ).one()
    near = read.execute(
        select(due, Ask.timezone, done_at).where(
            *done_in_period, due.is_not(None), done_at >= early, done_at < late
        )
    ).all()
    # Each deadline's end, once per day and timezone (asks share a few of each).
    ends: dict[tuple[Any, str], float] = {}
    kept_on_time = int(sure_on_time)
    for day, timezone, finished in near:
        if (day, timezone) not in ends:
            when = day if isinstance(day, date) else date.fromisoformat(str(day))
            ends[day, timezone] = end_of_day(when, timezone).timestamp()
        kept_on_time += float(finished) < ends[day, timezone]
    kept_late = int(done) - kept_on_time
    o = Obstacle
    on_theirs = [] if who is None else [o.ask_id.in_(select(Ask.id).where(*theirs))]
    raised, resolved = (
        session.connection()
        .execute(
            select(func.count(), func.count(o.resolved_at)).where(
                o.team_id == workspace.team_id,
                o.created_at >= chosen.start,
                o.created_at < chosen.end,
                *on_theirs,
            )
        )
        .one()
    )
    return AskFigures(
        asked=int(asked),
        committed=int(committed),
        kept_on_time=kept_on_time,
        kept_late=kept_late,
        declined=int(declined),
        obstacles_raised=int(raised),
        obstacles_resolved=int(resolved),
        hours_to_commit=statistics.fmean(middle) if middle else None,
    )


def _people_map(session: Session, workspace: Workspace, chosen: Period) -> Map:
    """The `MAP_PEOPLE` people most connected by carrying, and who carried whom among them:
    the map of a workspace without teams, read from history."""
    carried = tallies.carried_rows(workspace, chosen.start, chosen.end)
    person = union_all(
        select(carried.c.carrier.label("user_id"), (carried.c.thanks + carried.c.kept).label("n")),
        select(carried.c.carried.label("user_id"), (carried.c.thanks + carried.c.kept).label("n")),
    ).subquery("person")
    total = func.sum(person.c.n)
    nodes = list(
        session.connection().scalars(
            select(person.c.user_id)
            .where(person.c.user_id.in_(tallies.member_ids(workspace)))
            .group_by(person.c.user_id)
            .order_by(total.desc(), person.c.user_id)
            .limit(MAP_PEOPLE)
        )
    )
    if not nodes:
        return Map(False, [], [])
    pairs = (
        session.connection()
        .execute(
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
        )
        .all()
    )
    directed = {(a, b): (int(t), int(k)) for a, b, t, k in pairs}
    return Map(False, nodes, _links(directed), directed)


def _people_of(workspace: Workspace, group_id: str) -> Any:
    return select(TeamMember.user_id).where(
        TeamMember.team_id == workspace.team_id, TeamMember.group_id == group_id
    )


MAP = ""  # the workspace's map, kept as the spans of a team with no id


def _map_counts(
    session: Session, workspace: Workspace, start: datetime, end: datetime
) -> tallies.TeamCounts:
    """The kept map of the closed weeks [start, end), summed: (thanks|kept, "carrier
    carried") -> n."""
    w = InsightTeamWeek
    rows = session.connection().execute(
        select(w.carrier, w.carried, func.sum(w.thanks), func.sum(w.kept))
        .where(w.team_id == workspace.team_id, w.week >= start.date(), w.week < end.date())
        .group_by(w.carrier, w.carried)
    )
    counts: tallies.TeamCounts = {}
    for carrier, carried, thanks, kept in rows:
        counts["thanks", f"{carrier} {carried}"] = int(thanks)
        counts["kept", f"{carrier} {carried}"] = int(kept)
    return counts


def _team_map(
    session: Session,
    workspace: Workspace,
    chosen: Period,
    split: datetime,
    teams: list[TeamView],
) -> Map:
    """Who carried whom between teams: a person counts in each team they are in, and in
    `OTHERS` when in none of the teams shown (fewer than SMALLEST_GROUP of them: not shown).
    Carrying within a team is not drawn. The closed weeks come summed (`_map_counts`), the
    rest from history."""
    shown = [t.group_id for t in teams]
    volumes: dict[tuple[str, str], list[int]] = {}
    for (kind, pair), n in tallies.team_span_rows(
        session, workspace, MAP, chosen.start, split
    ).items():
        carrier, carried = pair.split(" ")
        volumes.setdefault((carrier, carried), [0, 0])[kind == "kept"] += n
    live = tallies.team_rows(session, workspace, split, chosen.end, shown)
    for _, carrier, carried, thanks, kept in session.connection().execute(live):
        found = volumes.setdefault((carrier, carried), [0, 0])
        found[0] += int(thanks)
        found[1] += int(kept)
    others = session.connection().scalar(
        select(func.count()).where(
            tallies.members(workspace),
            ~Person.user_id.in_(
                select(TeamMember.user_id).where(
                    TeamMember.team_id == workspace.team_id, TeamMember.group_id.in_(shown)
                )
            ),
        )
    )
    nodes = shown + ([OTHERS] if (others or 0) >= SMALLEST_GROUP else [])
    directed = {
        (a, b): (t, k)
        for (a, b), (t, k) in volumes.items()
        if a != b and a in nodes and b in nodes and (t or k)
    }
    return Map(True, nodes, _links(directed), directed)


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
    rows = (
        session.connection()
        .execute(
            select(Person.user_id, Person.name).where(
                Person.team_id == workspace.team_id, Person.user_id.in_(sorted(user_ids))
            )
        )
        .all()
    )
    return {user_id: name for user_id, name in rows if name}


# A person's own page.


def for_person(
    db: Database,
    workspace: Workspace,
    user_id: str,
    chosen: Period,
    now: datetime,
) -> PersonalInsights:
    """What `user_id` may see of themselves: their own appreciation counts (private
    included: they are one of its two people), their people from public thanks, and their
    asks."""
    split = _closed_until(chosen, now)
    tallies.ensure(db, workspace, tallies.PEOPLE, chosen.start, chosen.end, now)
    with db.transaction() as session:
        weeks = _personal_weeks(session, workspace, user_id, chosen, split)
        people = _colleagues(session, workspace, user_id, chosen)
        ask_lines = _ask_lines(session, workspace, user_id, chosen)
        shown = {c.user_id for c in people} | {a.colleague_id for a in ask_lines}
        names = _names(session, workspace, shown | {user_id})
    return PersonalInsights(chosen, user_id, weeks, people, ask_lines, names)


def _personal_weeks(
    session: Session, workspace: Workspace, user_id: str, chosen: Period, split: datetime
) -> list[PersonalWeek]:
    w = InsightWeek
    kept = (
        session.connection()
        .execute(
            select(w.week, w.given, w.received).where(
                w.team_id == workspace.team_id,
                w.user_id == user_id,
                w.week >= chosen.start.date(),
                w.week < split.date(),
            )
        )
        .all()
    )
    live = (
        session.connection()
        .execute(
            tallies.people_rows(session, workspace, split, chosen.end, only=user_id, totals=False)
        )
        .all()
    )
    rows = [*kept, *((r.week, r.given, r.received) for r in live)]
    return [PersonalWeek(monday, *counts) for monday, counts in _per_week(chosen, rows)]


def _colleagues(
    session: Session, workspace: Workspace, user_id: str, chosen: Period
) -> list[Colleague]:
    """Whom they thanked in public (their appreciations, by the givers' index) and who
    thanked them in public (by the recipients' index), most often first."""
    a, r = Appreciation, AppreciationRecipient
    span = [r.team_id == workspace.team_id, r.created_at >= chosen.start, r.created_at < chosen.end]
    gave = (
        select(r.user_id.label("colleague"), literal(1).label("thanked"), literal(0).label("me"))
        .select_from(a)
        .join(r, and_(r.appreciation_id == a.id, r.team_id == a.team_id))
        .where(
            a.team_id == workspace.team_id,
            a.giver_id == user_id,
            a.created_at >= chosen.start,
            a.created_at < chosen.end,
            a.is_private.is_(False),
            r.user_id != user_id,
        )
    )
    got = select(
        r.giver_id.label("colleague"), literal(0).label("thanked"), literal(1).label("me")
    ).where(*span, r.user_id == user_id, r.is_private.is_(False), r.giver_id != user_id)
    both = union_all(gave, got).subquery("both")
    thanked, thanked_me = func.sum(both.c.thanked), func.sum(both.c.me)
    rows = (
        session.connection()
        .execute(
            select(both.c.colleague, thanked, thanked_me)
            .group_by(both.c.colleague)
            .order_by((thanked + thanked_me).desc(), both.c.colleague)
            .limit(TOP * 2)
        )
        .all()
    )
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
        name = session.connection().scalar(
            select(InstalledWorkspace.name).where(InstalledWorkspace.team_id == workspace.team_id)
        )
    return name or workspace.team_id
