"""The year-end recap reads tallies kept as appreciation is recorded; here its recaps are
checked against the recaps as they were built from history alone (the query below), on a
varied history: private appreciation, leavers, forgotten people, appreciation taken back,
several years and moments near New Year in timezones far from UTC."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Select, Subquery, func, literal, select

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, asks, checkins, lifecycle, reactions, recap
from bot.services import asks as ask_rules
from bot.services.digest import GHOST_PREFIX
from bot.slack import people
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

WS = Workspace("T111")
OTHER = Workspace("T222")
PEOPLE = [f"U{n:02d}" for n in range(10)]
GONE, FORGOTTEN = "U07", "U08"
TAKEN_BACK = "U99"  # gave one appreciation, by reaction, and took it back
ZONES = ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12"]
# Moments around each New Year, where the year depends on the timezone.
EDGES = [(-1, 23), (-1, 9), (-1, 11), (0, 0), (0, 1), (0, 11), (0, 13), (0, 15), (1, 2)]


def history_recaps(
    db: Database, workspace: Workspace, year: int, user_ids: Collection[str], timezone: str
) -> dict[str, recap.Recap]:
    """The recaps as `recap.build_many` built them from history, before the tallies."""
    zone = ZoneInfo(timezone)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    recaps = {uid: recap.Recap(uid, year) for uid in user_ids}
    team = workspace.team_id
    in_year = [
        AppreciationRecipient.team_id == team,
        AppreciationRecipient.created_at >= start,
        AppreciationRecipient.created_at < end,
    ]
    done_in_year = [Ask.team_id == team, Ask.status == "done", Ask.done_at >= start]
    done_in_year.append(Ask.done_at < end)
    won_in_year = [
        BuyInGoal.team_id == team,
        BuyInGoal.outcome == "won",
        BuyInGoal.week >= f"{year}-W01",
        BuyInGoal.week < f"{year + 1}-W01",
    ]
    with db.transaction() as session:
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
        for user_id, count in session.execute(received.group_by(AppreciationRecipient.user_id)):
            if user_id in recaps:
                recaps[user_id].received = count
        for giver, count in session.execute(given.group_by(Appreciation.giver_id)):
            if giver in recaps:
                recaps[giver].given = count
        for helper, done_at, due_on, committed_on, tz in session.execute(
            select(Ask.helper_id, Ask.done_at, Ask.due_on, Ask.committed_on, Ask.timezone).where(
                *done_in_year
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
                recaps[person].carried.append(recap.Carried(colleague, kept_for, thanked, won_with))
    return recaps


def _three_who_carried(history: Subquery, team: str) -> Select[Any]:
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
    score = grouped.c.thanked + 2 * grouped.c.kept + 3 * grouped.c.won
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
        .where(ranked.c.place <= 3)
        .order_by(ranked.c.person, ranked.c.place)
    )


def give(db: Database, ws: Workspace, giver: str, to: list[str], at: datetime, key: str) -> int:
    return appreciation.record(
        db,
        ws,
        appreciation.Draft(giver, to, "thanks", is_private=key.endswith("p"), source_key=key),
        PersonInfo(giver),
        at,
        daily_limit=10_000,
    ).appreciation_id


def seed(db: Database, rng: random.Random, ws: Workspace = WS) -> None:
    """Appreciation over three years, a tenth private, a third at New Year's edges; kept
    commitments and won buy-in goals, a few ties among them."""
    for n in range(260):
        giver = rng.choice(PEOPLE)
        to = rng.sample([p for p in PEOPLE if p != giver], k=rng.choice((1, 1, 2, 3)))
        year = rng.choice((2025, 2026, 2027))
        if n % 3 == 0:
            days, hour = rng.choice(EDGES)
            at = datetime(year, 1, 1, hour, rng.randrange(60), tzinfo=UTC) + timedelta(days=days)
        else:
            at = datetime(year, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(525_600))
        give(db, ws, giver, to, at, f"k{n}" + ("p" if rng.random() < 0.1 else ""))
    for n in range(40):
        asker, helper = rng.sample(PEOPLE, 2)
        at = datetime(rng.choice((2025, 2026)), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
        ask, _ = asks.start(
            db,
            ws,
            asker_id=asker,
            helper_id=helper,
            request="help",
            channel_id="C1",
            due_on=(at + timedelta(days=rng.choice((-1, 3)))).date(),
            timezone="UTC",
            source_key=f"a{n}",
            now=at,
        )
        asks.apply(db, ws, ask.id, helper, "done", at + timedelta(hours=rng.choice((1, 30))))
    for _ in range(30):
        user, target = rng.sample(PEOPLE, 2)
        week = f"{rng.choice((2025, 2026))}-W{rng.randint(1, 52):02d}"
        at = datetime(2026, 6, 1, tzinfo=UTC)
        goal, _ = checkins.set_goal(db, ws, user, week, target, at)
        checkins.set_outcome(db, ws, user, goal.id, rng.choice(("won", "won", "working")), at)


@pytest.fixture
def varied(db: Database) -> Database:
    seed(db, random.Random(20261207))
    seed(db, random.Random(7), OTHER)
    people.remember(db, WS, [PersonInfo(GONE, deleted=True)], datetime(2026, 6, 1, tzinfo=UTC))
    # An appreciation by reaction, then the reaction removed within the window.
    at = datetime(2026, 12, 31, 12, tzinfo=UTC)
    reaction = reactions.Reaction("C1", "1.2", TAKEN_BACK, PEOPLE[0], "raised_hands")
    taken = give(db, WS, TAKEN_BACK, [PEOPLE[0]], at, reaction.source_key)
    reactions.take_back(db, WS, reaction, taken, PersonInfo(TAKEN_BACK), "UTC")
    lifecycle.forget(db, WS, FORGOTTEN, datetime(2027, 6, 1, tzinfo=UTC))
    return db


def as_tuples(recaps: dict[str, recap.Recap]) -> dict[str, tuple[Any, ...]]:
    return {
        uid: (
            r.given,
            r.received,
            r.kept_on_time,
            [(c.user_id, c.kept, c.thanked, c.won) for c in r.carried],
        )
        for uid, r in recaps.items()
    }


def test_recaps_from_tallies_are_the_recaps_from_history(varied: Database) -> None:
    everyone = [*PEOPLE, "UNOBODY"]
    # More than `recap.FEW` people: the whole year is read, as for a big workspace.
    crowd = everyone + [f"UX{n:04d}" for n in range(recap.FEW)]
    for zone, year in itertools.product(ZONES, (2025, 2026, 2027)):
        expected = as_tuples(history_recaps(varied, WS, year, everyone, zone))
        assert any(carried for *_, carried in expected.values())
        assert as_tuples(recap.build_many(varied, WS, year, everyone, zone)) == expected
        many = as_tuples(recap.build_many(varied, WS, year, crowd, zone))
        assert {uid: many[uid] for uid in everyone} == expected
        for uid in (PEOPLE[0], FORGOTTEN):
            assert as_tuples({uid: recap.build(varied, WS, year, uid, zone)})[uid] == expected[uid]


def tallies(db: Database, ws: Workspace) -> set[tuple[Any, ...]]:
    with db.transaction() as session:
        return {
            (t.year, t.user_id, t.colleague_id, t.given, t.received, t.thanked)
            for t in session.scalars(select(RecapTally).where(RecapTally.team_id == ws.team_id))
        }


def test_kept_tallies_are_what_history_counts(varied: Database) -> None:
    kept = {ws.team_id: tallies(varied, ws) for ws in (WS, OTHER)}
    assert all(row[3:] != (0, 0, 0) for rows in kept.values() for row in rows)
    with varied.transaction() as session:
        queries.recount_recap_tallies(session, WS, None)
        queries.recount_recap_tallies(session, OTHER, None)
    assert {ws.team_id: tallies(varied, ws) for ws in (WS, OTHER)} == kept


def test_what_is_erased_is_gone_from_the_tallies(varied: Database) -> None:
    with varied.transaction() as session:
        named = session.scalar(
            select(func.count()).where(
                RecapTally.team_id == WS.team_id,
                RecapTally.user_id.in_([FORGOTTEN, TAKEN_BACK])
                | RecapTally.colleague_id.in_([FORGOTTEN, TAKEN_BACK]),
            )
        )
    assert named == 0
    lifecycle.purge(varied, WS.team_id)
    assert tallies(varied, WS) == set() and tallies(varied, OTHER) != set()


def test_tallies_are_exact_when_many_record_at_once(db: Database) -> None:
    at = datetime(2026, 5, 4, 12, tzinfo=UTC)
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                giver = PEOPLE[(n + i) % 4]
                to = [p for p in PEOPLE[:5] if p != giver][: 1 + (i % 3)]
                give(db, WS, giver, to, at + timedelta(seconds=i), f"t{n}-{i}")
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    recorded = tallies(db, WS)
    with db.transaction() as session:
        queries.recount_recap_tallies(session, WS, None)
    assert tallies(db, WS) == recorded
    assert sum(row[3] for row in recorded) == 80
    expected = as_tuples(history_recaps(db, WS, 2026, PEOPLE, "UTC"))
    assert as_tuples(recap.build_many(db, WS, 2026, PEOPLE, "UTC")) == expected


def test_the_hours_around_new_year_are_left_to_history() -> None:
    assert queries.tallied_year(datetime(2026, 1, 1, 13, 59, tzinfo=UTC)) is None
    assert queries.tallied_year(datetime(2026, 1, 1, 14, tzinfo=UTC)) == 2026
    assert queries.tallied_year(datetime(2026, 12, 31, 9, 59, tzinfo=UTC)) == 2026
    assert queries.tallied_year(datetime(2026, 12, 31, 10, tzinfo=UTC)) is None
