"""The insights page's tallies: each closed week's appreciation per person, per company value
and between teams, worked out once from history so that a page of the year reads a few
thousand rows instead of a year of appreciation.

A week is a UTC week, Monday to Monday. It is closed an hour (`GRACE`) after it ends, when
nothing recorded in it can still be on its way; until then pages read it from history, with
the same query that works it out. A closed week is worked out the first time something
needs it (a page, or the tick getting ahead of the pages), one week per transaction, and
kept until its history changes: a withdrawn reaction asks for its week again, `forget` and
a change of teams for every week (`invalidate`, in the transaction that made the change).
Appreciation is never added to a kept week: a closed week's history only changes by those.

A page of a period sums its closed weeks once more, per person (`span`) and for a team's
page and the map (`team_span`): the first page of the week sums them, the next ones read
a few thousand rows. Nothing here is new arithmetic: the rows a tally keeps are the rows
the page would group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from bot.domain import Workspace
from bot.services.digest import GHOST_PREFIX
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    InsightSpan,
    InsightTalliedWeek,
    InsightTeamSpan,
    InsightTeamWeek,
    InsightValueWeek,
    InsightWeek,
    Person,
    Team,
    TeamMember,
)

GRACE = timedelta(hours=1)  # how long after its end a week is still read from history
SMALLEST_GROUP = 3  # a group smaller than this is not broken out
OTHERS = "others"  # the map's node for people in no team shown
PEOPLE, TEAMS = "people", "teams"  # the kinds of tallies a week has
KEPT_WEEKS = 104  # a year, and the year before it that a page compares it with


@dataclass(frozen=True)
class TeamView:
    group_id: str
    name: str
    members: int


def monday(at: datetime) -> datetime:
    """The start (UTC midnight, a Monday) of the week `at` falls in."""
    day = at.astimezone(UTC).date()
    day -= timedelta(days=day.weekday())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def closed_before(now: datetime) -> datetime:
    """The weeks before this are closed: kept as tallies once worked out. Never a week that
    has not ended yet, even as of a later time (`advocate tick --now` ahead of the clock):
    what is recorded in it now would never be kept."""
    return monday(min(now, datetime.now(UTC)) - GRACE)


def monday_of(column: Any, session: Session) -> Any:
    """The Monday (UTC) of the week a stored instant falls in, as a date."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", column)), Date)
    return func.date(column, "weekday 0", "-6 days")


def members(workspace: Workspace) -> Any:
    """The workspace's people who count: not bots, not deactivated, not forgotten."""
    return and_(
        Person.team_id == workspace.team_id,
        Person.is_bot.is_(False),
        Person.deleted.is_(False),
        ~Person.user_id.startswith(GHOST_PREFIX),
    )


def member_ids(workspace: Workspace) -> Any:
    return select(Person.user_id).where(members(workspace))


def shown_teams(session: Session, workspace: Workspace) -> list[TeamView]:
    """The teams that may be broken out: user groups of at least SMALLEST_GROUP members,
    biggest first."""
    size = func.count(func.distinct(TeamMember.user_id))
    rows = session.execute(
        select(Team.group_id, Team.name, size)
        .join(
            TeamMember,
            and_(TeamMember.team_id == Team.team_id, TeamMember.group_id == Team.group_id),
        )
        .where(Team.team_id == workspace.team_id, TeamMember.user_id.in_(member_ids(workspace)))
        .group_by(Team.group_id, Team.name)
        .having(size >= SMALLEST_GROUP)
        .order_by(size.desc(), Team.name, Team.group_id)
    ).all()
    return [TeamView(group_id, name or group_id, int(members)) for group_id, name, members in rows]


# The rows of a span of history, in each tally's shape: what a tally keeps of a closed week,
# and what the page reads of the weeks not closed yet.


def people_rows(
    session: Session,
    workspace: Workspace,
    start: datetime,
    end: datetime,
    only: str | None = None,
    totals: bool = True,
) -> Select:
    """(week, user_id, given, received, public_received, public_givers) of [start, end),
    and with `totals` each week's totals as user "" (given: appreciations; received: people
    thanked). With `only`, that person's rows alone (found by the givers' and recipients'
    indexes)."""
    a, r = Appreciation, AppreciationRecipient
    gave_week, got_week = monday_of(a.created_at, session), monday_of(r.created_at, session)
    in_gave = [a.team_id == workspace.team_id, a.created_at >= start, a.created_at < end]
    in_got = [r.team_id == workspace.team_id, r.created_at >= start, r.created_at < end]
    public = r.is_private.is_(False)

    def counts(given: Any, received: Any, public_received: Any, public_givers: Any) -> list[Any]:
        return [
            given.label("given"),
            received.label("received"),
            public_received.label("public_received"),
            public_givers.label("public_givers"),
        ]

    zero = literal(0)
    parts = [
        select(
            gave_week.label("week"),
            a.giver_id.label("user_id"),
            *counts(func.count(), zero, zero, zero),
        )
        .where(*in_gave, *([] if only is None else [a.giver_id == only]))
        .group_by(gave_week, a.giver_id),
        select(
            got_week.label("week"),
            r.user_id.label("user_id"),
            *counts(
                zero,
                func.count(),
                func.coalesce(func.sum(case((public, 1), else_=0)), 0),
                func.count(func.distinct(case((public, r.giver_id)))),
            ),
        )
        .where(*in_got, *([] if only is None else [r.user_id == only]))
        .group_by(got_week, r.user_id),
    ]
    if totals and only is None:
        parts += [
            select(
                gave_week.label("week"),
                literal("").label("user_id"),
                *counts(func.count(), zero, zero, zero),
            )
            .where(*in_gave)
            .group_by(gave_week),
            select(
                got_week.label("week"),
                literal("").label("user_id"),
                *counts(zero, func.count(func.distinct(r.user_id)), zero, zero),
            )
            .where(*in_got)
            .group_by(got_week),
        ]
    both = union_all(*parts).subquery("both")
    c = both.c
    return select(
        c.week,
        c.user_id,
        func.sum(c.given).label("given"),
        func.sum(c.received).label("received"),
        func.sum(c.public_received).label("public_received"),
        func.sum(c.public_givers).label("public_givers"),
    ).group_by(c.week, c.user_id)


def values_cited(session: Session) -> Any:
    """Each company value an appreciation cites, as a table to join it with: counted by the
    database from each list's elements."""
    a = Appreciation
    return (
        func.json_array_elements_text(a.company_values)
        if session.get_bind().dialect.name == "postgresql"
        else func.json_each(a.company_values)
    ).table_valued("value")


def value_rows(session: Session, workspace: Workspace, start: datetime, end: datetime) -> Select:
    """(week, value, cited) of [start, end): the company values cited, private appreciation
    included (a value is the workspace's own word, not anybody's)."""
    a = Appreciation
    listed = values_cited(session)
    week = monday_of(a.created_at, session)
    return (
        select(week.label("week"), listed.c.value.label("value"), func.count().label("cited"))
        .select_from(a)
        .join(listed, true())
        .where(
            a.team_id == workspace.team_id,
            a.created_at >= start,
            a.created_at < end,
            # Most name no value: their empty lists are not opened.
            cast(a.company_values, String) != "[]",
        )
        .group_by(week, listed.c.value)
    )


def carried_rows(workspace: Workspace, start: datetime, end: datetime) -> Any:
    """One row per way someone carried someone in [start, end): (at, carrier, carried,
    thanks, kept). Public thanks: the recipient carried the giver. A kept commitment: the
    helper carried the asker."""
    r = AppreciationRecipient
    thanks = select(
        r.created_at.label("at"),
        r.user_id.label("carrier"),
        r.giver_id.label("carried"),
        literal(1).label("thanks"),
        literal(0).label("kept"),
    ).where(
        r.team_id == workspace.team_id,
        r.created_at >= start,
        r.created_at < end,
        r.is_private.is_(False),
    )
    kept = select(
        Ask.done_at.label("at"),
        Ask.helper_id.label("carrier"),
        Ask.asker_id.label("carried"),
        literal(0).label("thanks"),
        literal(1).label("kept"),
    ).where(
        Ask.team_id == workspace.team_id,
        Ask.status == "done",
        Ask.done_at >= start,
        Ask.done_at < end,
    )
    return union_all(thanks, kept).subquery("carried")


def team_rows(
    session: Session, workspace: Workspace, start: datetime, end: datetime, shown: list[str]
) -> Select:
    """(week, carrier, carried, thanks, kept) between the nodes of the map, of [start, end):
    a person counts in each team shown they are in, and in OTHERS when in none; only
    members count; carrying within a node is left out."""
    carried = carried_rows(workspace, start, end)
    # Joined as the table itself, not a subquery of it, so that SQLite finds each person's
    # teams through `ix_team_members_team_user`.
    carrier, carried_in = aliased(TeamMember), aliased(TeamMember)

    def in_team(member: Any, user_id: Any) -> Any:
        # The teams shown are tested on the index's row, not sought: sought, SQLite probes
        # the index once per team for every row of the span.
        return and_(
            member.team_id == workspace.team_id,
            member.user_id == user_id,
            func.coalesce(member.group_id, "").in_(shown),
        )

    source = func.coalesce(carrier.group_id, OTHERS)
    target = func.coalesce(carried_in.group_id, OTHERS)
    week = monday_of(carried.c.at, session)
    everyone = member_ids(workspace)
    return (
        select(
            week.label("week"),
            source.label("carrier"),
            target.label("carried"),
            func.sum(carried.c.thanks).label("thanks"),
            func.sum(carried.c.kept).label("kept"),
        )
        .select_from(carried)
        .outerjoin(carrier, in_team(carrier, carried.c.carrier))
        .outerjoin(carried_in, in_team(carried_in, carried.c.carried))
        .where(
            carried.c.carrier.in_(everyone),
            carried.c.carried.in_(everyone),
            source != target,
        )
        .group_by(week, source, target)
    )


# What a page reads: the kept tallies of the closed weeks, history for the rest.


def values(
    session: Session, workspace: Workspace, start: datetime, end: datetime, now: datetime
) -> Any:
    """(week, value, cited) of [start, end): the kept closed weeks, history for the rest."""
    split = min(max(closed_before(now), start), end)
    v = InsightValueWeek
    parts: list[Select] = []
    if start < split:
        parts.append(
            select(v.week, v.value, v.cited).where(
                v.team_id == workspace.team_id, v.week >= start.date(), v.week < split.date()
            )
        )
    if split < end:
        parts.append(value_rows(session, workspace, split, end))
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


PersonSums = dict[str, list[int]]  # user_id -> [given, received, public_received, public_givers]


def add_rows(sums: PersonSums, rows: Iterable[Any]) -> PersonSums:
    """Add (user_id, given, received, public_received, public_givers) rows to `sums`."""
    for user_id, given, received, public_received, public_givers in rows:
        found = sums.get(user_id)
        if found is None:
            sums[user_id] = [int(given), int(received), int(public_received), int(public_givers)]
        else:
            found[0] += int(given)
            found[1] += int(received)
            found[2] += int(public_received)
            found[3] += int(public_givers)
    return sums


def span(db: Database, workspace: Workspace, start: datetime, end: datetime, now: datetime) -> None:
    """Sum the kept weeks of [start, end) per person, once (see InsightSpan). The weeks
    must be worked out (`ensure`) first."""
    if start >= end:
        return
    scope = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    bounds = {"starts_on": start.date(), "ends_on": end.date()}
    with db.transaction() as session:
        hold(session, workspace, exclusive=False)
        taken = insert_ignoring_conflicts(
            session,
            InsightSpan,
            [{**scope, **bounds, "user_id": "", **dict.fromkeys(COUNTS, 0)}],
            ["team_id", "starts_on", "ends_on", "user_id"],
        )
        if not taken:
            return
        w = InsightWeek
        summed = (
            select(
                literal(workspace.team_id),
                literal(workspace.enterprise_id, String),
                literal(start.date(), Date),
                literal(end.date(), Date),
                w.user_id,
                *(func.sum(getattr(w, name)) for name in COUNTS),
            )
            .where(
                w.team_id == workspace.team_id,
                w.week >= start.date(),
                w.week < end.date(),
                w.user_id != "",
            )
            .group_by(w.user_id)
        )
        session.execute(
            insert(InsightSpan).from_select(
                ["team_id", "enterprise_id", "starts_on", "ends_on", "user_id", *COUNTS], summed
            )
        )


def span_rows(session: Session, workspace: Workspace, start: datetime, end: datetime) -> list[Any]:
    """(user_id, given, received, public_received, public_givers) summed over [start, end)."""
    if start >= end:
        return []
    s = InsightSpan
    return list(
        session.connection().execute(
            select(s.user_id, *(getattr(s, name) for name in COUNTS)).where(
                s.team_id == workspace.team_id,
                s.starts_on == start.date(),
                s.ends_on == end.date(),
                s.user_id != "",
            )
        )
    )


TeamCounts = dict[tuple[str, str], int]  # (kind, key) -> n, as InsightTeamSpan keeps them


def team_span(
    db: Database,
    workspace: Workspace,
    group_id: str,
    start: datetime,
    end: datetime,
    count: Callable[[Session, datetime, datetime], TeamCounts],
) -> None:
    """Keep `count` of the closed weeks [start, end) for the team `group_id`, once (see
    InsightTeamSpan)."""
    if start >= end:
        return
    scope = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    bounds = {"group_id": group_id, "starts_on": start.date(), "ends_on": end.date()}
    key = ["team_id", "group_id", "starts_on", "ends_on", "kind", "key"]
    with db.transaction() as session:
        hold(session, workspace, exclusive=False)
        taken = insert_ignoring_conflicts(
            session, InsightTeamSpan, [{**scope, **bounds, "kind": "", "key": "", "n": 0}], key
        )
        if not taken:
            return
        rows = [
            {**scope, **bounds, "kind": kind, "key": name, "n": n}
            for (kind, name), n in sorted(count(session, start, end).items())
        ]
        insert_ignoring_conflicts(session, InsightTeamSpan, rows, key)


def team_span_rows(
    session: Session, workspace: Workspace, group_id: str, start: datetime, end: datetime
) -> TeamCounts:
    if start >= end:
        return {}
    t = InsightTeamSpan
    rows = session.connection().execute(
        select(t.kind, t.key, t.n).where(
            t.team_id == workspace.team_id,
            t.group_id == group_id,
            t.starts_on == start.date(),
            t.ends_on == end.date(),
            t.kind != "",
        )
    )
    return {(kind, key): int(n) for kind, key, n in rows}


COUNTS = ("given", "received", "public_received", "public_givers")


# Working out closed weeks.


def ensure(
    db: Database,
    workspace: Workspace,
    kind: str,
    start: datetime,
    end: datetime,
    now: datetime,
    most: int | None = None,
) -> int:
    """Work out the closed weeks of [start, end) whose `kind` tallies are not kept yet,
    oldest first, each in its own transaction (at most `most` of them). Returns how many
    were worked out here."""
    with db.transaction() as session:
        # Nothing happened before the first appreciation (or ask): those weeks are empty,
        # and history is never added to a week gone by.
        firsts = [
            session.scalar(
                select(func.min(Appreciation.created_at)).where(
                    Appreciation.team_id == workspace.team_id
                )
            )
        ]
        if kind == TEAMS:
            firsts.append(
                session.scalar(
                    select(func.min(Ask.created_at)).where(Ask.team_id == workspace.team_id)
                )
            )
        known = [first for first in firsts if first is not None]
        if not known:
            return 0
        week = max(monday(start), monday(min(known)))
        last = min(end, closed_before(now))
        wanted = []
        while week < last:
            wanted.append(week)
            week += timedelta(weeks=1)
        if not wanted:
            return 0
        kept = set(
            session.scalars(
                select(InsightTalliedWeek.week).where(
                    InsightTalliedWeek.team_id == workspace.team_id,
                    InsightTalliedWeek.kind == kind,
                    InsightTalliedWeek.week >= wanted[0].date(),
                    InsightTalliedWeek.week <= wanted[-1].date(),
                )
            )
        )
    missing = [week for week in wanted if week.date() not in kept][:most]
    for week in missing:
        _work_out(db, workspace, kind, week, now)
    return len(missing)


def _work_out(db: Database, workspace: Workspace, kind: str, week: datetime, now: datetime) -> None:
    with db.transaction() as session:
        work_out(session, workspace, kind, week, now)


def work_out(
    session: Session, workspace: Workspace, kind: str, week: datetime, now: datetime
) -> None:
    """Work out one closed week's `kind` tallies, in `session`'s transaction, unless another
    transaction has (or is)."""
    scope = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    hold(session, workspace, exclusive=False)
    # The mark first: a process that finds it taken (or waits on one being taken) leaves
    # the week to its owner.
    taken = insert_ignoring_conflicts(
        session,
        InsightTalliedWeek,
        [{**scope, "kind": kind, "week": week.date(), "tallied_at": now}],
        ["team_id", "kind", "week"],
    )
    if not taken:
        return
    end = week + timedelta(weeks=1)
    for model, rows in _tallies(session, workspace, kind, week, end):
        session.execute(
            delete(model).where(model.team_id == workspace.team_id, model.week == week.date())
        )
        if rows is None:
            continue
        columns = list(rows.selected_columns.keys())
        team = literal(workspace.team_id).label("team_id")
        enterprise = literal(workspace.enterprise_id, String).label("enterprise_id")
        session.execute(
            insert(model).from_select(
                ["team_id", "enterprise_id", *columns],
                select(team, enterprise, *rows.subquery().c),
            )
        )


# Any constant of this app's own, apart from the migrations' (store/migrate.py).
LOCK_CLASS = 0x1A51


def hold(session: Session, workspace: Workspace, *, exclusive: bool) -> None:
    """On PostgreSQL, a lock on the workspace's tallies until the transaction ends: shared
    while a week or a span is worked out, exclusive while `invalidate` deletes them. So an
    erasure waits for a week being worked out from the history it changes, and then deletes
    it too; and a week worked out after the erasure reads the history it left. (SQLite has
    one writer at a time, and works a week out in one statement.)"""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(select(getattr(func, lock)(LOCK_CLASS, func.hashtext(workspace.team_id))))


def _tallies(
    session: Session, workspace: Workspace, kind: str, start: datetime, end: datetime
) -> list[tuple[Any, Select | None]]:
    if kind == PEOPLE:
        return [
            (InsightWeek, people_rows(session, workspace, start, end)),
            (InsightValueWeek, value_rows(session, workspace, start, end)),
        ]
    shown = [t.group_id for t in shown_teams(session, workspace)]
    return [(InsightTeamWeek, team_rows(session, workspace, start, end, shown) if shown else None)]


def invalidate(
    session: Session,
    workspace: Workspace,
    weeks: Iterable[datetime] | None = None,
    kinds: Iterable[str] = (PEOPLE, TEAMS),
) -> None:
    """Forget the kept tallies of `weeks` (None: every week) of `kinds`, in the transaction
    that changed their history: they are worked out again when next needed."""
    kinds = list(kinds)
    hold(session, workspace, exclusive=True)
    days = None if weeks is None else sorted({monday(week).date() for week in weeks})
    models: list[Any] = []
    if PEOPLE in kinds:
        models += [InsightWeek, InsightValueWeek]
        # Every span: a span of any length may hold one of the weeks.
        session.execute(delete(InsightSpan).where(InsightSpan.team_id == workspace.team_id))
    if TEAMS in kinds:
        models.append(InsightTeamWeek)
    # A team's spans read both kinds of history.
    session.execute(delete(InsightTeamSpan).where(InsightTeamSpan.team_id == workspace.team_id))
    for model in models:
        session.execute(
            delete(model).where(
                model.team_id == workspace.team_id,
                *([] if days is None else [model.week.in_(days)]),
            )
        )
    session.execute(
        delete(InsightTalliedWeek).where(
            InsightTalliedWeek.team_id == workspace.team_id,
            InsightTalliedWeek.kind.in_(kinds),
            *([] if days is None else [InsightTalliedWeek.week.in_(days)]),
        )
    )


def catch_up(db: Database, workspace: Workspace, now: datetime, most: int = 8) -> int:
    """Work out up to `most` of the closed weeks a page may read (the last KEPT_WEEKS, and
    the year's for the map), so that pages find them kept, and delete the spans that end a
    week before the closed weeks do (no page reads them any more; a page that began before
    the week closed may still read last week's). For the tick."""
    with db.transaction() as session:
        for model in (InsightSpan, InsightTeamSpan):
            session.execute(
                delete(model).where(
                    model.team_id == workspace.team_id,
                    model.ends_on < (closed_before(now) - timedelta(weeks=1)).date(),
                )
            )
    end = monday(now) + timedelta(weeks=1)
    done = ensure(db, workspace, PEOPLE, end - timedelta(weeks=KEPT_WEEKS), end, now, most)
    with db.transaction() as session:
        has_teams = bool(shown_teams(session, workspace))
    if has_teams and done < most:
        done += ensure(db, workspace, TEAMS, end - timedelta(weeks=52), end, now, most - done)
    return done
