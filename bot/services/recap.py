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

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

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
    """The recaps of `user_ids` for `year` (the workspace's `timezone` bounds the year)."""
    zone = ZoneInfo(timezone)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    wanted = set(user_ids)
    recaps = {uid: Recap(uid, year) for uid in wanted}
    carried: dict[str, dict[str, Carried]] = defaultdict(dict)

    def colleague(user_id: str, other: str) -> Carried:
        return carried[user_id].setdefault(other, Carried(other))

    team = workspace.team_id
    with db.transaction() as session:
        # Appreciation between two people, per pair, over the year (private included: each
        # pair's count only reaches the recaps of its two people).
        pairs = session.execute(
            select(
                AppreciationRecipient.giver_id,
                AppreciationRecipient.user_id,
                func.count(),
            )
            .where(
                AppreciationRecipient.team_id == team,
                AppreciationRecipient.created_at >= start,
                AppreciationRecipient.created_at < end,
            )
            .group_by(AppreciationRecipient.giver_id, AppreciationRecipient.user_id)
        ).all()
        given = session.execute(
            select(Appreciation.giver_id, func.count())
            .where(
                Appreciation.team_id == team,
                Appreciation.created_at >= start,
                Appreciation.created_at < end,
            )
            .group_by(Appreciation.giver_id)
        ).all()
        done = session.execute(
            select(
                Ask.asker_id,
                Ask.helper_id,
                Ask.done_at,
                Ask.due_on,
                Ask.committed_on,
                Ask.timezone,
            ).where(
                Ask.team_id == team,
                Ask.status == "done",
                Ask.done_at >= start,
                Ask.done_at < end,
            )
        ).all()
        won = session.execute(
            select(BuyInGoal.user_id, BuyInGoal.target_user_id, func.count())
            .where(
                BuyInGoal.team_id == team,
                BuyInGoal.outcome == "won",
                BuyInGoal.week >= f"{year}-W01",
                BuyInGoal.week < f"{year + 1}-W01",
            )
            .group_by(BuyInGoal.user_id, BuyInGoal.target_user_id)
        ).all()
        gone = set(
            session.scalars(
                select(Person.user_id).where(Person.team_id == team, Person.deleted.is_(True))
            )
        )
    for giver, recipient, count in pairs:
        if recipient in wanted:
            recaps[recipient].received += count
        if giver in wanted:
            colleague(giver, recipient).thanked += count
    for giver, count in given:
        if giver in wanted:
            recaps[giver].given = count
    for asker, helper, done_at, due_on, committed_on, tz in done:
        if asker in wanted:
            colleague(asker, helper).kept += 1
        deadline = committed_on or due_on
        if helper in wanted and (
            deadline is None or done_at < ask_rules.end_of_day(deadline, tz or "UTC")
        ):
            recaps[helper].kept_on_time += 1
    for user_id, target, count in won:
        if user_id in wanted:
            colleague(user_id, target).won += count
    for user_id, recap in recaps.items():
        named = [
            c
            for c in carried.get(user_id, {}).values()
            if c.user_id != user_id
            and c.user_id not in gone
            and not c.user_id.startswith(GHOST_PREFIX)
        ]
        named.sort(key=lambda c: (-c.score, -c.kept, -c.thanked, c.user_id))
        recap.carried = named[:CARRIED_SHOWN]
    return recaps


def build(db: Database, workspace: Workspace, year: int, user_id: str, timezone: str) -> Recap:
    return build_many(db, workspace, year, [user_id], timezone)[user_id]
