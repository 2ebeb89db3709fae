"""The year-end recap: who carried each person this year, and what they gave and received.

One recap per person per year, sent with their first check-in on or after the recap date
(`ADVOCATE_RECAP_DATE`, `MM-DD`) in their own timezone. Everything is counted for many
people at once, with one grouped query per kind of record over the year, so the recaps of
a whole workspace cost a handful of queries however many people it has.

"Carried" weighs what colleagues did for the person: a commitment kept for them counts 2,
each appreciation the person gave them 1, and a buy-in goal won with them 3. Private
appreciation is counted, never quoted, and only in the recaps of the two people involved
(it is their own); people who left, or asked to be forgotten, are never named.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Subquery, func, literal, select, text

from bot.domain import Workspace
from bot.services import asks as ask_rules
from bot.services.digest import GHOST_PREFIX
from bot.store.db import Database
from bot.store.models import Appreciation, AppreciationRecipient, Ask, BuyInGoal, Person

CARRIED_SHOWN = 3
WEIGHTS = {"kept": 2, "thanked": 1, "won": 3}
# The recap of a year still comes with a check-in this long after the recap date (a person
# back from leave in January gets last year's); later, it is not sent.
CATCH_UP = timedelta(days=60)


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

    The database ranks each person's colleagues and returns only the three it names; the
    totals come grouped per person. Nothing here grows with the number of pairs."""
    zone = ZoneInfo(timezone)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    wanted = set(user_ids)
    # A few people (a preview, a small workspace): their rows only; else the whole year.
    few = len(wanted) <= 500
    recaps = {uid: Recap(uid, year) for uid in wanted}
    team = workspace.team_id
    in_year = [
        AppreciationRecipient.team_id == team,
        AppreciationRecipient.created_at >= start,
        AppreciationRecipient.created_at < end,
    ]
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
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            # The year's pairs are grouped in one pass; in memory, not spilled to disk.
            session.execute(text("SET LOCAL work_mem = '64MB'"))
        received = select(AppreciationRecipient.user_id, func.count()).where(*in_year)
        given = select(Appreciation.giver_id, func.count()).where(
            Appreciation.team_id == team,
            Appreciation.created_at >= start,
            Appreciation.created_at < end,
        )
        thanks = select(
            AppreciationRecipient.giver_id.label("person"),
            AppreciationRecipient.user_id.label("colleague"),
            literal(1).label("thanked"),
            literal(0).label("kept"),
            literal(0).label("won"),
        ).where(*in_year)
        kept = select(Ask.asker_id, Ask.helper_id, literal(0), literal(1), literal(0)).where(
            *done_in_year
        )
        won = select(
            BuyInGoal.user_id, BuyInGoal.target_user_id, literal(0), literal(0), literal(1)
        ).where(*won_in_year)
        if few:
            received = received.where(AppreciationRecipient.user_id.in_(wanted))
            given = given.where(Appreciation.giver_id.in_(wanted))
            thanks = thanks.where(AppreciationRecipient.giver_id.in_(wanted))
            kept = kept.where(Ask.asker_id.in_(wanted))
            won = won.where(BuyInGoal.user_id.in_(wanted))
        for user_id, count in session.execute(received.group_by(AppreciationRecipient.user_id)):
            if user_id in recaps:
                recaps[user_id].received = count
        for giver, count in session.execute(given.group_by(Appreciation.giver_id)):
            if giver in recaps:
                recaps[giver].given = count
        for helper, done_at, due_on, committed_on, tz in session.execute(
            select(Ask.helper_id, Ask.done_at, Ask.due_on, Ask.committed_on, Ask.timezone).where(
                *done_in_year, *([Ask.helper_id.in_(wanted)] if few else [])
            )
        ):
            deadline = committed_on or due_on
            if (
                helper in recaps
                and done_at is not None
                and (deadline is None or done_at < ask_rules.end_of_day(deadline, tz or "UTC"))
            ):
                recaps[helper].kept_on_time += 1
        for person, colleague, thanked, kept_for, won_with in session.execute(
            _three_who_carried(thanks.union_all(kept, won).subquery(), team)
        ):
            if person in recaps:
                recaps[person].carried.append(Carried(colleague, kept_for, thanked, won_with))
    return recaps


def _three_who_carried(history: Subquery, team: str) -> Select[Any]:
    """Per person, the `CARRIED_SHOWN` colleagues with the highest score: never themselves,
    nor anyone who left or was forgotten."""
    grouped = (
        select(
            history.c.person,
            history.c.colleague,
            func.sum(history.c.thanked).label("thanked"),
            func.sum(history.c.kept).label("kept"),
            func.sum(history.c.won).label("won"),
        )
        .group_by(history.c.person, history.c.colleague)
        .subquery()
    )
    score = (
        WEIGHTS["thanked"] * grouped.c.thanked
        + WEIGHTS["kept"] * grouped.c.kept
        + WEIGHTS["won"] * grouped.c.won
    )
    gone = select(Person.user_id).where(Person.team_id == team, Person.deleted.is_(True))
    ranked = (
        select(
            grouped,
            func.row_number()
            .over(
                partition_by=grouped.c.person,
                order_by=(
                    score.desc(),
                    grouped.c.kept.desc(),
                    grouped.c.thanked.desc(),
                    grouped.c.colleague,
                ),
            )
            .label("place"),
        )
        .where(
            grouped.c.colleague != grouped.c.person,
            ~grouped.c.colleague.startswith(GHOST_PREFIX),
            grouped.c.colleague.not_in(gone),
        )
        .subquery()
    )
    return (
        select(ranked.c.person, ranked.c.colleague, ranked.c.thanked, ranked.c.kept, ranked.c.won)
        .where(ranked.c.place <= CARRIED_SHOWN)
        .order_by(ranked.c.person, ranked.c.place)
    )


def build(db: Database, workspace: Workspace, year: int, user_id: str, timezone: str) -> Recap:
    return build_many(db, workspace, year, [user_id], timezone)[user_id]
