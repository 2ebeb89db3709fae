"""The counting queries shared by commands, the Home and the digest: one place, one meaning.

Counts per person and per period read `appreciation_recipients` alone: each row carries
its appreciation's giver, privacy and time, and the `(team_id, user_id, created_at)` and
`(team_id, created_at)` indexes find a person's or a period's rows. The all-time
leaderboard reads `all_time_standings` instead, which no index could replace:
`count_public_appreciation` keeps it up to date in the transaction that records an
appreciation, and `recount_all_time` rebuilds it from history where history changed.
The year-end recap reads `recap_tallies`, kept the same way by `tally_for_recap` and
`recount_recap_tallies`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    bindparam,
    case,
    cast,
    delete,
    desc,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.store.models import (
    AllTimeGiver,
    AllTimeStanding,
    Appreciation,
    AppreciationRecipient,
    DailyGiving,
    RecapTally,
)


@dataclass(frozen=True)
class Standing:
    user_id: str
    received: int
    distinct_givers: int


class Thanks(NamedTuple):
    """In a period, `givers` people each publicly appreciated `user_id` `times` times."""

    user_id: str
    times: int
    givers: int


# Where an open-ended period is read as ending. Analyzed, SQLite guesses that a range
# open at one end holds a quarter of the rows (closed, 1/64), so for "this month" it
# read the whole workspace through the per-person index; closed, it reads the month
# through `ix_appreciation_recipients_team_created`. PostgreSQL reads the same either way.
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def _received_in(
    workspace: Workspace, since: datetime | None, until: datetime | None = None
) -> list[ColumnElement[bool]]:
    """Recipient rows of the workspace in [since, until); None leaves that end open."""
    conditions = [AppreciationRecipient.team_id == workspace.team_id]
    if since is not None:
        conditions.append(AppreciationRecipient.created_at >= since)
    if until is not None:
        conditions.append(AppreciationRecipient.created_at < until)
    return conditions


def count_received(
    session: Session,
    workspace: Workspace,
    user_id: str,
    since: datetime | None,
    *,
    private: bool,
) -> int:
    """Appreciation `user_id` received from `since` on; private ones only when `private`
    (the person's own view: only its people know a private appreciation exists)."""
    query = select(func.count()).where(
        *_received_in(workspace, since), AppreciationRecipient.user_id == user_id
    )
    if not private:
        query = query.where(AppreciationRecipient.is_private.is_(False))
    return session.scalar(query) or 0


def count_given(
    session: Session,
    workspace: Workspace,
    user_id: str,
    since: datetime | None,
    *,
    private: bool,
) -> int:
    """Appreciation `user_id` gave from `since` on; private ones only when `private`."""
    query = select(func.count(Appreciation.id)).where(
        Appreciation.team_id == workspace.team_id, Appreciation.giver_id == user_id
    )
    if since is not None:
        query = query.where(Appreciation.created_at >= since)
    if not private:
        query = query.where(Appreciation.is_private.is_(False))
    return session.scalar(query) or 0


def leaderboard(
    session: Session, workspace: Workspace, since: datetime | None, limit: int
) -> list[Standing]:
    """Public appreciation received per person, then distinct givers, then user id; private
    appreciation is never ranked. All time reads the kept totals; a period, its history."""
    if since is None:
        query = (
            select(AllTimeStanding.user_id, AllTimeStanding.received, AllTimeStanding.givers)
            .where(AllTimeStanding.team_id == workspace.team_id)
            .order_by(
                desc(AllTimeStanding.received),
                desc(AllTimeStanding.givers),
                AllTimeStanding.user_id,
            )
            .limit(limit)
        )
        rows = session.execute(query).all()
    else:
        per_giver = _per_giver(workspace, since, None)
        received = func.sum(per_giver.c.times).label("received")
        givers = func.count().label("givers")
        period = (
            select(per_giver.c.user_id, received, givers)
            .group_by(per_giver.c.user_id)
            .order_by(desc(received), desc(givers), per_giver.c.user_id)
            .limit(limit)
        )
        rows = session.execute(period).all()
    return [Standing(user_id=r[0], received=r[1], distinct_givers=r[2]) for r in rows]


def _per_giver(workspace: Workspace, since: datetime, until: datetime | None) -> Any:
    """Per recipient and giver, how often public appreciation went from one to the other
    in [since, until)."""
    period = _received_in(workspace, since, until or END_OF_TIME)
    return (
        select(
            AppreciationRecipient.user_id,
            AppreciationRecipient.giver_id,
            func.count().label("times"),
        )
        .where(*period, AppreciationRecipient.is_private.is_(False))
        .group_by(AppreciationRecipient.user_id, AppreciationRecipient.giver_id)
        .subquery()
    )


def public_thanks(
    session: Session, workspace: Workspace, since: datetime, until: datetime | None
) -> list[Thanks]:
    """Public appreciation per recipient in [since, until), grouped by how often each
    giver gave it: all the breadth-weighted ranking needs, in few rows."""
    per_giver = _per_giver(workspace, since, until)
    query = select(per_giver.c.user_id, per_giver.c.times, func.count()).group_by(
        per_giver.c.user_id, per_giver.c.times
    )
    return [Thanks(*row) for row in session.execute(query)]


class Received(NamedTuple):
    """One public appreciation a person received."""

    giver_id: str
    appreciation_id: int
    quotable: bool  # its words were not said in a private conversation


def public_received(
    session: Session,
    workspace: Workspace,
    user_ids: Collection[str],
    since: datetime,
    until: datetime | None,
) -> dict[str, list[Received]]:
    """Per person in `user_ids`: each public appreciation they received in [since, until),
    oldest first."""
    query = (
        select(
            AppreciationRecipient.user_id,
            AppreciationRecipient.giver_id,
            AppreciationRecipient.appreciation_id,
            Appreciation.said_in_private,
        )
        .join(Appreciation, Appreciation.id == AppreciationRecipient.appreciation_id)
        .where(
            *_received_in(workspace, since, until),
            AppreciationRecipient.user_id.in_(sorted(user_ids)),
            AppreciationRecipient.is_private.is_(False),
        )
        .order_by(AppreciationRecipient.created_at, AppreciationRecipient.appreciation_id)
    )
    received: dict[str, list[Received]] = {}
    for user_id, giver_id, appreciation_id, said_in_private in session.execute(query):
        received.setdefault(user_id, []).append(
            Received(giver_id, appreciation_id, not said_in_private)
        )
    return received


class WeekTotals(NamedTuple):
    """Every appreciation in a period, private included."""

    appreciations: int
    givers: int  # distinct people who gave
    people_thanked: int  # distinct people who received


def totals(session: Session, workspace: Workspace, since: datetime, until: datetime) -> WeekTotals:
    """How much appreciation there was in [since, until), private included."""
    people_thanked = (
        select(func.count(func.distinct(AppreciationRecipient.user_id)))
        .where(*_received_in(workspace, since, until))
        .scalar_subquery()
    )
    query = select(
        func.count(), func.count(func.distinct(Appreciation.giver_id)), people_thanked
    ).where(
        Appreciation.team_id == workspace.team_id,
        Appreciation.created_at >= since,
        Appreciation.created_at < until,
    )
    return WeekTotals(*session.execute(query).one())


def company_values(
    session: Session, workspace: Workspace, since: datetime, until: datetime
) -> list[list[str]]:
    """The company values each appreciation in [since, until) named, private included,
    oldest first; appreciations that named none are left out."""
    query = (
        select(Appreciation.company_values)
        .where(
            Appreciation.team_id == workspace.team_id,
            Appreciation.created_at >= since,
            Appreciation.created_at < until,
            # Most name no value: not fetching their empty list is most of the saving.
            # A list stored in another spelling still comes back, and counts as nothing.
            cast(Appreciation.company_values, String) != "[]",
        )
        .order_by(Appreciation.created_at, Appreciation.id)
    )
    return list(session.scalars(query))


def first_thanked_in(
    session: Session, workspace: Workspace, since: datetime, until: datetime
) -> list[str]:
    """Who was publicly appreciated for the first time in [since, until), by user id:
    read from the kept first times, not from history."""
    query = select(AllTimeStanding.user_id).where(
        AllTimeStanding.team_id == workspace.team_id,
        AllTimeStanding.first_public_at >= since,
        AllTimeStanding.first_public_at < until,
    )
    return list(session.scalars(query))


def recent_received(
    session: Session, workspace: Workspace, user_id: str, limit: int
) -> list[Appreciation]:
    """The latest appreciation `user_id` received, newest first (private included: it is
    theirs to see)."""
    query = (
        select(Appreciation)
        .join(AppreciationRecipient, AppreciationRecipient.appreciation_id == Appreciation.id)
        .where(
            AppreciationRecipient.team_id == workspace.team_id,
            AppreciationRecipient.user_id == user_id,
            Appreciation.team_id == workspace.team_id,
        )
        .order_by(
            AppreciationRecipient.created_at.desc(), AppreciationRecipient.appreciation_id.desc()
        )
        .limit(limit)
    )
    return list(session.scalars(query))


def _insert(session: Session, model: type[Any] | Table) -> Any:
    """An INSERT of `model` that can add ON CONFLICT ... DO UPDATE, on either backend."""
    return insert_for(_dialect(session), model)


def insert_for(dialect: str, model: type[Any] | Table) -> Any:
    """`_insert` for the database named `dialect`, for statements built once."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def new_appreciation(session: Session) -> Any:
    """The INSERT of an appreciation's row that returns its id, or nothing when its
    `source_key` is taken (a repeat of the same submission): the key decides, whichever
    transaction comes first."""
    return _new_appreciation(_dialect(session))


@cache
def _new_appreciation(dialect: str) -> Any:
    table: Table = Appreciation.__table__  # type: ignore[assignment]
    return (
        insert_for(dialect, table)
        .on_conflict_do_nothing(index_elements=["team_id", "source_key"])
        .returning(table.c.id)
    )


def take_daily_giving(
    session: Session, workspace: Workspace, giver_id: str, since: datetime, limit: int
) -> bool:
    """Count one more appreciation for `giver_id` on their day, which began at `since`,
    unless `limit` are already counted; False when they are. Call it in the transaction
    that recorded the appreciation. One statement, which locks the row it updates: two
    transactions never both see room for the last one. A day's first row starts from the
    appreciations it holds, this one included (some were recorded by a version without the
    counter); a refusal is rolled back with the appreciation."""
    counted = session.scalar(
        _daily_giving(_dialect(session)),
        {
            "team_id": workspace.team_id,
            "enterprise_id": workspace.enterprise_id,
            "giver_id": giver_id,
            "day": since.date(),
            "team": workspace.team_id,
            "giver": giver_id,
            "since": since,
            "limit": limit,
        },
    )
    return counted is not None and counted <= limit


@cache
def _daily_giving(dialect: str) -> Any:
    table: Table = DailyGiving.__table__  # type: ignore[assignment]
    held = (
        select(func.count(Appreciation.id))
        .where(
            Appreciation.team_id == bindparam("team"),
            Appreciation.giver_id == bindparam("giver"),
            Appreciation.created_at >= bindparam("since"),
        )
        .scalar_subquery()
    )
    return (
        insert_for(dialect, table)
        .values(given=held)
        .on_conflict_do_update(
            index_elements=["team_id", "giver_id", "day"],
            set_={"given": table.c.given + 1},
            where=table.c.given < bindparam("limit"),
        )
        .returning(table.c.given)
    )


def count_public_appreciation(
    session: Session,
    workspace: Workspace,
    giver_id: str,
    recipient_ids: Collection[str],
    at: datetime,
) -> None:
    """Add one public appreciation from `giver_id`, made at `at`, to each recipient's
    all-time standing.

    Call it in the transaction that records the appreciation. Recipients are counted in a
    fixed order so that concurrent transactions lock the same rows in the same order.
    """
    scope = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    recipients = sorted(set(recipient_ids))
    if not recipients:
        return
    pairs, standings = _counting(_dialect(session))
    # One statement for every recipient's pair with the giver, one for their standings.
    counted = session.execute(
        pairs,
        [{**scope, "user_id": uid, "giver_id": giver_id, "received": 1} for uid in recipients],
    )
    times = {user_id: received for user_id, received in counted}
    session.execute(
        standings,
        [
            # Only a first appreciation from this giver adds a giver.
            {
                **scope,
                "user_id": uid,
                "received": 1,
                "givers": int(times[uid] == 1),
                "first_public_at": at,
            }
            for uid in recipients
        ],
    )


@cache
def _counting(dialect: str) -> tuple[Any, Any]:
    """The two upserts of `count_public_appreciation`, built once for each database."""
    givers: Table = AllTimeGiver.__table__  # type: ignore[assignment]
    standings: Table = AllTimeStanding.__table__  # type: ignore[assignment]
    pairs = insert_for(dialect, givers)
    counted = insert_for(dialect, standings)
    return (
        pairs.on_conflict_do_update(
            index_elements=["team_id", "user_id", "giver_id"],
            set_={"received": givers.c.received + 1},
        ).returning(givers.c.user_id, givers.c.received),
        counted.on_conflict_do_update(
            index_elements=["team_id", "user_id"],
            set_={
                "received": standings.c.received + 1,
                "givers": standings.c.givers + counted.excluded.givers,
                # An appreciation recorded with an earlier time than one already
                # counted (a backdated `now`) still moves the first one back.
                "first_public_at": case(
                    (
                        standings.c.first_public_at <= counted.excluded.first_public_at,
                        standings.c.first_public_at,
                    ),
                    else_=counted.excluded.first_public_at,
                ),
            },
        ),
    )


def recount_all_time(
    session: Session, workspace: Workspace, user_ids: Collection[str] | None
) -> None:
    """Rebuild the all-time standings of `user_ids` (None: everyone in the workspace) from
    the public appreciation they received, for when history changed under them."""
    if user_ids is None:
        _recount(session, workspace.team_id, None)
        return
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 500):
        _recount(session, workspace.team_id, ids[start : start + 500])


def _recount(session: Session, team: str, user_ids: list[str] | None) -> None:
    givers = [AllTimeGiver.team_id == team]
    standings = [AllTimeStanding.team_id == team]
    received = [
        AppreciationRecipient.team_id == team,
        AppreciationRecipient.is_private.is_(False),
    ]
    if user_ids is not None:
        givers.append(AllTimeGiver.user_id.in_(user_ids))
        standings.append(AllTimeStanding.user_id.in_(user_ids))
        received.append(AppreciationRecipient.user_id.in_(user_ids))
    session.execute(delete(AllTimeGiver).where(*givers))
    session.execute(delete(AllTimeStanding).where(*standings))
    by_pair = (
        select(
            AppreciationRecipient.team_id,
            func.max(AppreciationRecipient.enterprise_id),
            AppreciationRecipient.user_id,
            AppreciationRecipient.giver_id,
            func.count(),
        )
        .where(*received)
        .group_by(
            AppreciationRecipient.team_id,
            AppreciationRecipient.user_id,
            AppreciationRecipient.giver_id,
        )
    )
    session.execute(
        insert(AllTimeGiver).from_select(
            ["team_id", "enterprise_id", "user_id", "giver_id", "received"], by_pair
        )
    )
    by_person = (
        select(
            AppreciationRecipient.team_id,
            func.max(AppreciationRecipient.enterprise_id),
            AppreciationRecipient.user_id,
            func.count(),
            func.count(func.distinct(AppreciationRecipient.giver_id)),
            func.min(AppreciationRecipient.created_at),
        )
        .where(*received)
        .group_by(AppreciationRecipient.team_id, AppreciationRecipient.user_id)
    )
    session.execute(
        insert(AllTimeStanding).from_select(
            ["team_id", "enterprise_id", "user_id", "received", "givers", "first_public_at"],
            by_person,
        )
    )


def replace_giver_in_all_time(
    session: Session, workspace: Workspace, giver_id: str, replacement: str
) -> None:
    """Count what `giver_id` gave as given by `replacement` (a forgotten person's ghost).

    Where the replacement had already appreciated the same person, the two givers become
    one: those standings are recounted from history, which must already name the
    replacement."""
    team = workspace.team_id
    already = select(AllTimeGiver.user_id).where(
        AllTimeGiver.team_id == team, AllTimeGiver.giver_id == replacement
    )
    merged = list(
        session.scalars(
            select(AllTimeGiver.user_id).where(
                AllTimeGiver.team_id == team,
                AllTimeGiver.giver_id == giver_id,
                AllTimeGiver.user_id.in_(already),
            )
        )
    )
    session.execute(
        update(AllTimeGiver)
        .where(
            AllTimeGiver.team_id == team,
            AllTimeGiver.giver_id == giver_id,
            AllTimeGiver.user_id.not_in(merged),
        )
        .values(giver_id=replacement)
        .execution_options(synchronize_session=False)
    )
    recount_all_time(session, workspace, merged)


# No timezone is more than 14 hours from UTC: in the first and last 14 hours of a UTC year,
# it is another year somewhere. Appreciation recorded then is not tallied; a recap reads it
# from history, where its workspace's timezone bounds the year.
YEAR_EDGE = timedelta(hours=14)


def tallied_span(year: int) -> tuple[datetime, datetime]:
    """[start, end) of what the recap tallies count as `year`: in that year in every
    timezone."""
    start = datetime(year, 1, 1, tzinfo=UTC) + YEAR_EDGE
    return start, datetime(year + 1, 1, 1, tzinfo=UTC) - YEAR_EDGE


def tallied_year(at: datetime) -> int | None:
    """The year the recap tallies count an appreciation made `at` in, or None (the edge)."""
    year = at.astimezone(UTC).year
    start, end = tallied_span(year)
    return year if start <= at < end else None


def tally_for_recap(
    session: Session,
    workspace: Workspace,
    giver_id: str,
    recipient_ids: Collection[str],
    at: datetime,
) -> None:
    """Add one appreciation from `giver_id` to `recipient_ids`, made at `at` (private or
    not), to the recap tallies of its year: one statement, built once, for all of its rows.

    Call it in the transaction that records the appreciation. Rows go in a fixed order so
    that concurrent transactions lock them in the same order."""
    year = tallied_year(at)
    recipients = set(recipient_ids)
    if year is None or not recipients:
        return
    counts: dict[tuple[str, str], list[int]] = {("", giver_id): [1, 0, 0]}
    for uid in recipients:
        counts.setdefault(("", uid), [0, 0, 0])[1] += 1
        counts.setdefault((uid, giver_id), [0, 0, 0])[2] += 1
    session.execute(
        _tallying(_dialect(session)),
        [
            {
                "team_id": workspace.team_id,
                "enterprise_id": workspace.enterprise_id,
                "year": year,
                "colleague_id": colleague,
                "user_id": user,
                "given": given,
                "received": received,
                "thanked": thanked,
            }
            for (colleague, user), (given, received, thanked) in sorted(counts.items())
        ],
    )


@cache
def _tallying(dialect: str) -> Any:
    """The upsert of `tally_for_recap`, built once for each database."""
    table: Table = RecapTally.__table__  # type: ignore[assignment]
    rows = insert_for(dialect, table)
    return rows.on_conflict_do_update(
        index_elements=["team_id", "year", "colleague_id", "user_id"],
        set_={
            "given": table.c.given + rows.excluded.given,
            "received": table.c.received + rows.excluded.received,
            "thanked": table.c.thanked + rows.excluded.thanked,
        },
    )


def recount_recap_tallies(
    session: Session, workspace: Workspace, user_ids: Collection[str] | None
) -> None:
    """Rebuild every recap tally that names one of `user_ids` (None: everyone in the
    workspace) from history, for when history changed under them: their totals, whom they
    appreciated, and who appreciated them."""
    team = workspace.team_id
    a, r = Appreciation, AppreciationRecipient
    dialect = session.get_bind().dialect.name
    given = [a.team_id == team, _tallied(a.created_at, dialect)]
    received = [r.team_id == team, _tallied(r.created_at, dialect)]
    pairs = list(received)
    erased = [RecapTally.team_id == team]
    if user_ids is not None:
        ids = sorted(set(user_ids))
        # The years kept, so that the rows naming them as colleague are found by index.
        first, last = session.execute(
            select(func.min(RecapTally.year), func.max(RecapTally.year)).where(
                RecapTally.team_id == team
            )
        ).one()
        years = list(range(first, last + 1)) if first is not None else []
        given.append(a.giver_id.in_(ids))
        received.append(r.user_id.in_(ids))
        # Their own appreciations by the givers' index, each with its recipients.
        theirs = select(a.id).where(a.team_id == team, a.giver_id.in_(ids))
        pairs.append(or_(r.appreciation_id.in_(theirs), r.user_id.in_(ids)))
        erased += [
            RecapTally.year.in_(years),
            or_(RecapTally.user_id.in_(ids), RecapTally.colleague_id.in_(ids)),
        ]
    session.execute(delete(RecapTally).where(*erased))

    def part(model: Any, user: Any, colleague: Any, counts: tuple[int, int, int]) -> Any:
        return select(
            model.team_id.label("team_id"),
            model.enterprise_id.label("enterprise_id"),
            _year(model.created_at, dialect).label("year"),
            user.label("user_id"),
            colleague.label("colleague_id"),
            *(literal(n).label(name) for n, name in zip(counts, COUNTED, strict=True)),
        )

    history = union_all(
        part(a, a.giver_id, literal(""), (1, 0, 0)).where(*given),
        part(r, r.user_id, literal(""), (0, 1, 0)).where(*received),
        part(r, r.giver_id, r.user_id, (0, 0, 1)).where(*pairs),
    ).subquery()
    h = history.c
    tallies = select(
        h.team_id,
        func.max(h.enterprise_id),
        h.year,
        h.user_id,
        h.colleague_id,
        func.sum(h.given),
        func.sum(h.received),
        func.sum(h.thanked),
    ).group_by(h.team_id, h.year, h.user_id, h.colleague_id)
    session.execute(
        insert(RecapTally).from_select(
            ["team_id", "enterprise_id", "year", "user_id", "colleague_id", *COUNTED],
            tallies,
        )
    )


COUNTED = ("given", "received", "thanked")


def _year(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(extract("year", func.timezone("UTC", column)), Integer)
    return cast(func.strftime("%Y", column), Integer)


def _tallied(column: Any, dialect: str) -> ColumnElement[bool]:
    """`column` (a UTC time) falls in the span of its year that the recap tallies count."""
    if dialect == "postgresql":
        moment = func.to_char(func.timezone("UTC", column), "MM-DD HH24:MI")
    else:
        moment = func.strftime("%m-%d %H:%M", column)
    start, end = (f"{t:%m-%d %H:%M}" for t in tallied_span(2001))
    return (moment >= start) & (moment < end)
