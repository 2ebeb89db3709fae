"""The year-end recap: who carried each person this year, and what they gave and received.

One recap per person per year, sent with their first check-in on or after the recap date
(`ADVOCATE_RECAP_DATE`, `MM-DD`) in their own timezone. Everything is counted for many
people at once, in a handful of queries however many people the workspace has: appreciation
from the tallies kept as it is recorded (`recap_tallies`), commitments and buy-in goals
from their own tables.

"Carried" weighs what colleagues did for the person: a commitment kept for them counts 2,
each appreciation the person gave them 1, and a buy-in goal won with them 3. Private
appreciation is counted, never quoted, and only in the recaps of the two people involved
(it is their own); people who left, or asked to be forgotten, are never named.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true, union
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from bot.domain import Workspace
from bot.services import asks as ask_rules
from bot.services.digest import GHOST_PREFIX
from bot.store import queries
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    BuyInGoal,
    Person,
    RecapTally,
)

CARRIED_SHOWN = 3
WEIGHTS = {"kept": 2, "thanked": 1, "won": 3}
# The recap of a year still comes with a check-in this long after the recap date (a person
# back from leave in January gets last year's); later, it is not sent.
CATCH_UP = timedelta(days=60)
# Up to this many people are read by their ids; more, by reading the whole year.
FEW = 500


@dataclass
class Carried:
    user_id: str
    kept: int = 0  # commitments they kept for the person
    thanked: int = 0  # appreciations the person gave them
    won: int = 0  # buy-in goals the person won with them

    @property
    def score(self) -> int:
        return (
            WEIGHTS["kept"] * self.kept
            + WEIGHTS["thanked"] * self.thanked
            + WEIGHTS["won"] * self.won
        )


@dataclass
class Recap:
    user_id: str
    year: int
    given: int = 0
    received: int = 0
    kept_on_time: int = 0  # commitments the person kept on time for others
    carried: list[Carried] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.given or self.received)


def due_year(local_today: date, recap_date: tuple[int, int]) -> int | None:
    """The year whose recap a check-in on `local_today` carries, or None."""
    for year in (local_today.year, local_today.year - 1):
        start = _recap_day(year, recap_date)
        if start <= local_today < start + CATCH_UP:
            return year
    return None


def _recap_day(year: int, recap_date: tuple[int, int]) -> date:
    month, day = recap_date
    try:
        return date(year, month, day)
    except ValueError:  # 02-29 in a year without one
        return date(year, month, day - 1)


def build_many(
    db: Database, workspace: Workspace, year: int, user_ids: Collection[str], timezone: str
) -> dict[str, Recap]:
    """The recaps of `user_ids` for `year` (the workspace's `timezone` bounds the year).

    Appreciation comes from the tallies kept as it is recorded (`recap_tallies`: a few rows
    per person), plus what history holds for the hours around New Year that they leave to
    the timezone; commitments and buy-in goals, a few per person, from their own tables.
    Nothing here grows with the number of pairs of people."""
    zone = ZoneInfo(timezone)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    tallied_start, tallied_end = queries.tallied_span(year)
    if not start <= tallied_start < tallied_end <= end:
        raise ValueError(f"{timezone} is more than {queries.YEAR_EDGE} away from UTC")
    wanted = set(user_ids)
    # A few people (a preview, a small workspace): their rows only; else the whole year.
    few = len(wanted) <= FEW
    recaps = {uid: Recap(uid, year) for uid in wanted}
    team = workspace.team_id
    edges = [(start, tallied_start), (tallied_end, end)]
    t, r, a = RecapTally, AppreciationRecipient, Appreciation
    in_edges = or_(*((r.created_at >= s) & (r.created_at < e) for s, e in edges))
    given_in_edges = or_(*((a.created_at >= s) & (a.created_at < e) for s, e in edges))
    done_in_year = [
        Ask.team_id == team,
        Ask.status == "done",
        Ask.done_at >= start,
        Ask.done_at < end,
    ]
    won_in_year = [
        BuyInGoal.team_id == team,
        BuyInGoal.outcome == "won",
        BuyInGoal.week >= f"{year}-W01",
        BuyInGoal.week < f"{year + 1}-W01",
    ]
    tallied = [t.team_id == team, t.year == year]
    totals = select(t.user_id, t.given, t.received).where(*tallied, t.colleague_id == "")
    edge_pairs = select(r.giver_id, r.user_id, func.count()).where(r.team_id == team, in_edges)
    edge_given = select(a.giver_id, func.count()).where(a.team_id == team, given_in_edges)
    asks = select(
        Ask.asker_id, Ask.helper_id, Ask.done_at, Ask.due_on, Ask.committed_on, Ask.timezone
    ).where(*done_in_year)
    won = select(BuyInGoal.user_id, BuyInGoal.target_user_id, func.count()).where(*won_in_year)
    # The pairs whose counts the tallies alone do not give.
    special_pairs = [
        select(Ask.asker_id.label("person"), Ask.helper_id.label("colleague")).where(*done_in_year),
        select(BuyInGoal.user_id, BuyInGoal.target_user_id).where(*won_in_year),
        select(r.giver_id, r.user_id).where(r.team_id == team, in_edges),
    ]
    if few:
        totals = totals.where(t.user_id.in_(wanted))
        edge_pairs = edge_pairs.where(or_(r.giver_id.in_(wanted), r.user_id.in_(wanted)))
        edge_given = edge_given.where(a.giver_id.in_(wanted))
        asks = asks.where(or_(Ask.asker_id.in_(wanted), Ask.helper_id.in_(wanted)))
        won = won.where(BuyInGoal.user_id.in_(wanted))
        special_pairs = [
            special_pairs[0].where(Ask.asker_id.in_(wanted)),
            special_pairs[1].where(BuyInGoal.user_id.in_(wanted)),
            special_pairs[2].where(r.giver_id.in_(wanted)),
        ]
    pairs = union(*special_pairs).subquery()
    pair = (t.colleague_id == pairs.c.colleague) & (t.user_id == pairs.c.person)
    tallied_pairs = select(pairs.c.person, pairs.c.colleague, t.thanked).join_from(
        pairs, t, pair & and_(*tallied)
    )
    if db.engine.dialect.name == "postgresql":
        # Each pair looked up by the tallies' unique index: PostgreSQL would rather hash the
        # whole year's tallies to join a few thousand pairs (the LIMIT keeps it from turning
        # the lookup back into that join; a pair has one row anyway).
        tally = select(t.thanked).where(*tallied, pair).limit(1).lateral("tally")
        tallied_pairs = select(pairs.c.person, pairs.c.colleague, tally.c.thanked).join_from(
            pairs, tally, true()
        )
    # Per (person, colleague): [thanked, kept, won], for the colleagues whose counts the
    # tallies alone do not give: commitments, goals and the year's edges.
    special: dict[tuple[str, str], list[int]] = {}
    with db.transaction() as session:
        # Core rows, not ORM results: tens of thousands of them.
        connection = session.connection()
        for user_id, given, received in connection.execute(totals).all():
            if user_id in recaps:
                recaps[user_id].given += given
                recaps[user_id].received += received
        for giver, count in connection.execute(edge_given.group_by(a.giver_id)).all():
            if giver in recaps:
                recaps[giver].given += count
        edge_pairs = edge_pairs.group_by(r.giver_id, r.user_id)
        for giver, user_id, count in connection.execute(edge_pairs).all():
            if user_id in recaps:
                recaps[user_id].received += count
            special.setdefault((giver, user_id), [0, 0, 0])[0] += count
        for asker, helper, done_at, due_on, committed_on, tz in connection.execute(asks).all():
            special.setdefault((asker, helper), [0, 0, 0])[1] += 1
            deadline = committed_on or due_on
            if (
                helper in recaps
                and done_at is not None
                and (deadline is None or done_at < ask_rules.end_of_day(deadline, tz or "UTC"))
            ):
                recaps[helper].kept_on_time += 1
        for user_id, target, count in connection.execute(
            won.group_by(BuyInGoal.user_id, BuyInGoal.target_user_id)
        ).all():
            special.setdefault((user_id, target), [0, 0, 0])[2] += count
        gone = set(
            connection.scalars(select(Person.user_id).where(Person.team_id == team, Person.deleted))
        )
        for user_id, colleague, thanked in connection.execute(tallied_pairs).all():
            special[(user_id, colleague)][0] += thanked
        most_thanked = _most_thanked(connection, team, year, wanted if few else None)
    candidates: dict[str, dict[str, list[int]]] = {}
    for user_id, colleague, thanked in most_thanked:
        if (user_id, colleague) not in special:
            candidates.setdefault(user_id, {})[colleague] = [thanked, 0, 0]
    for (user_id, colleague), counts in special.items():
        candidates.setdefault(user_id, {})[colleague] = counts
    kept, thanks, wins = WEIGHTS["kept"], WEIGHTS["thanked"], WEIGHTS["won"]
    for user_id, recap in recaps.items():
        # Best first: score, then commitments kept, then thanks, then user id.
        ranked = sorted(
            (
                -(kept * kept_for + thanks * thanked + wins * won_with),
                -kept_for,
                -thanked,
                colleague,
                won_with,
            )
            for colleague, (thanked, kept_for, won_with) in candidates.get(user_id, {}).items()
            if colleague != user_id
            and not colleague.startswith(GHOST_PREFIX)
            and colleague not in gone
        )
        recap.carried = [
            Carried(colleague, -kept_for, -thanked, won_with)
            for _, kept_for, thanked, colleague, won_with in ranked[:CARRIED_SHOWN]
        ]
    return recaps


def _most_thanked(
    connection: Connection, team: str, year: int, user_ids: Collection[str] | None
) -> list[tuple[str, str, int]]:
    """Per person (of `user_ids`; None: all), the `CARRIED_SHOWN` colleagues they thanked
    most, by the tallies (then by user id): never themselves, a forgotten person's ghost,
    nor anyone who left. Read from the tallies' index, a few rows per person.

    Whoever else may rank among the three carried people has a commitment, a goal or thanks
    in the year's edges, and is counted from those; anyone else ranks behind these."""
    t = aliased(RecapTally)
    person = aliased(RecapTally)  # a person's totals: one row for everyone who gave
    people = [person.team_id == team, person.year == year, person.colleague_id == ""]
    if user_ids is not None:
        people.append(person.user_id.in_(user_ids))
    colleagues = (
        select(t.id)
        .where(
            t.team_id == person.team_id,
            t.year == person.year,
            t.user_id == person.user_id,
            t.colleague_id != "",
            t.colleague_id != person.user_id,
            ~t.colleague_id.startswith(GHOST_PREFIX),
            t.colleague_id.not_in(
                select(Person.user_id).where(Person.team_id == team, Person.deleted)
            ),
        )
        .order_by(t.thanked.desc(), t.colleague_id)
        .limit(CARRIED_SHOWN)
        .correlate(person)
    )
    if connection.dialect.name == "postgresql":
        top = colleagues.with_only_columns(t.colleague_id, t.thanked).lateral("top")
        query = select(person.user_id, top.c.colleague_id, top.c.thanked).join_from(
            person, top, true()
        )
    else:
        # SQLite has no LATERAL: a correlated IN on the row id is looked up per person.
        query = select(person.user_id, t.colleague_id, t.thanked).join_from(
            person, t, t.id.in_(colleagues.scalar_subquery())
        )
    rows = connection.execute(query.where(*people)).all()
    return [(user_id, colleague, thanked) for user_id, colleague, thanked in rows]


def build(db: Database, workspace: Workspace, year: int, user_id: str, timezone: str) -> Recap:
    return build_many(db, workspace, year, [user_id], timezone)[user_id]
