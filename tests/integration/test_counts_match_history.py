"""The leaderboards, `stats`, the digest and the Home's advocates read indexed copies and
kept all-time totals; here they are checked against a plain count of the history, the
way they used to be computed, on a random but fixed history with private appreciation,
leavers, forgotten people and a second workspace."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, digest, lifecycle
from bot.services.schedule import digest_window
from bot.store.db import Database
from bot.store.models import (
    AllTimeGiver,
    AllTimeStanding,
    Appreciation,
    AppreciationRecipient,
    Person,
)

WS = Workspace("T111")
OTHER = Workspace("T222")
PEOPLE = [f"U{n:03d}" for n in range(12)]
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
ZONE = "Europe/Paris"
WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]
# The digests' days: Friday 16:00 to Friday 16:00 in Paris (the default schedule).
DIGEST_DAY, DIGEST_TIME = "fri", "16:00"
# Named in turn by the seeded appreciations (most name none), so that weeks have ties.
VALUES = [[], ["teamwork"], [], ["ownership", "teamwork"], [], ["customer-first"], ["ownership"]]


@dataclass(frozen=True)
class Given:
    giver: str
    recipients: list[str]
    reason: str
    private: bool
    at: datetime
    id: int
    values: list[str]


def give(
    db: Database,
    ws: Workspace,
    giver: str,
    to: list[str],
    at: datetime,
    private: bool = False,
    values: list[str] | None = None,
) -> None:
    draft = appreciation.Draft(
        giver,
        to,
        f"for help at {at:%d %H:%M}",
        values=values or [],
        is_private=private,
        source_key=f"k{at}{giver}",
    )
    appreciation.record(db, ws, draft, PersonInfo(giver), at, daily_limit=10_000)


def seed(db: Database, rng: random.Random, count: int, ws: Workspace = WS) -> None:
    """`count` appreciations over the six weeks before NOW, a tenth of them private."""
    popular = PEOPLE[:4] * 3 + PEOPLE
    for n in range(count):
        giver = rng.choice(PEOPLE)
        to = rng.sample([p for p in popular if p != giver], k=rng.choice((1, 1, 2, 3)))
        at = NOW - timedelta(days=42) + timedelta(minutes=n * 370 + rng.randrange(60))
        private = rng.random() < 0.1
        give(db, ws, giver, list(dict.fromkeys(to)), at, private, VALUES[n % len(VALUES)])


def window(week: str) -> digest.Window:
    """The days of the digest scheduled in `week`."""
    return digest.Window(week, *digest_window(week, DIGEST_DAY, DIGEST_TIME, ZoneInfo(ZONE)))


def history(db: Database, ws: Workspace = WS) -> list[Given]:
    """Every appreciation of the workspace, oldest first, as stored (without the copies)."""
    with db.transaction() as session:
        rows = session.scalars(
            select(Appreciation)
            .where(Appreciation.team_id == ws.team_id)
            .order_by(Appreciation.created_at, Appreciation.id)
        )
        return [
            Given(
                a.giver_id,
                a.recipient_ids,
                a.reason,
                a.is_private,
                a.created_at,
                a.id,
                a.company_values,
            )
            for a in rows
        ]


def expected_board(given: list[Given], since: datetime | None) -> list[tuple[str, int, int]]:
    received: Counter[str] = Counter()
    givers: dict[str, set[str]] = defaultdict(set)
    for a in given:
        if a.private or (since is not None and a.at < since):
            continue
        for uid in a.recipients:
            received[uid] += 1
            givers[uid].add(a.giver)
    board = [(uid, n, len(givers[uid])) for uid, n in received.items()]
    return sorted(board, key=lambda s: (-s[1], -s[2], s[0]))


def expected_advocates(given: list[Given], since: datetime, until: datetime | None) -> list[tuple]:
    """The ranking as `digest.rank` computed it over loaded appreciation objects."""
    by_recipient: dict[str, Counter[str]] = defaultdict(Counter)
    latest: dict[str, Given] = {}
    for a in given:
        if a.private or a.at < since or (until is not None and a.at >= until):
            continue
        for uid in a.recipients:
            by_recipient[uid][a.giver] += 1
            latest[uid] = a
    ranked = [
        (
            uid,
            math.fsum(math.sqrt(n) for n in counts.values()),
            sum(counts.values()),
            [g for g, _ in counts.most_common()],
            latest[uid].reason,
            latest[uid].giver,
        )
        for uid, counts in by_recipient.items()
    ]
    return sorted(ranked, key=lambda a: (-a[1], -a[2], a[0]))


def as_tuples(advocates: list[digest.Advocate]) -> list[tuple]:
    return [(a.user_id, a.score, a.received, a.givers, a.quote, a.quote_giver) for a in advocates]


def kept_totals(db: Database, ws: Workspace = WS) -> tuple[set[tuple], set[tuple]]:
    with db.transaction() as session:
        standings = {
            (s.user_id, s.received, s.givers, s.first_public_at)
            for s in session.scalars(
                select(AllTimeStanding).where(AllTimeStanding.team_id == ws.team_id)
            )
        }
        pairs = {
            (p.user_id, p.giver_id, p.received)
            for p in session.scalars(select(AllTimeGiver).where(AllTimeGiver.team_id == ws.team_id))
        }
    return standings, pairs


def assert_totals_match_history(db: Database, ws: Workspace = WS) -> None:
    given = history(db, ws)
    pairs: Counter[tuple[str, str]] = Counter(
        (uid, a.giver) for a in given if not a.private for uid in a.recipients
    )
    standings, kept_pairs = kept_totals(db, ws)
    first_public: dict[str, datetime] = {}
    for a in given:
        for uid in a.recipients if not a.private else []:
            first_public[uid] = min(a.at, first_public.get(uid, a.at))
    assert kept_pairs == {(uid, g, n) for (uid, g), n in pairs.items()}
    assert standings == {(*s, first_public[s[0]]) for s in expected_board(given, None)}


@pytest.fixture
def busy(db: Database) -> Database:
    rng = random.Random(20261127)
    seed(db, rng, 160)
    seed(db, random.Random(1), 30, OTHER)
    with db.transaction() as session:
        for n, uid in enumerate(PEOPLE):
            session.add(Person(team_id=WS.team_id, user_id=uid, refreshed_at=NOW, deleted=n == 3))
    return db


def test_all_time_totals_are_what_history_counts_after_gives_and_private_gives(
    busy: Database,
) -> None:
    assert_totals_match_history(busy)
    assert_totals_match_history(busy, OTHER)


def test_all_time_totals_are_what_history_counts_after_forget_even_twice(busy: Database) -> None:
    lifecycle.forget(busy, WS, "U000", NOW)  # the most thanked, and a giver
    assert_totals_match_history(busy)
    # Forgotten, back, thanks the same people again, and forgotten again: the ghost who
    # already thanked them and the new thanks are one giver.
    give(busy, WS, "U000", ["U001", "U002"], NOW + timedelta(minutes=1))
    give(busy, WS, "U000", ["U011"], NOW + timedelta(minutes=2), private=True)
    lifecycle.forget(busy, WS, "U000", NOW)
    assert_totals_match_history(busy)
    lifecycle.forget(busy, WS, "U005", NOW)
    assert_totals_match_history(busy)
    assert_totals_match_history(busy, OTHER)


def test_copies_on_recipient_rows_are_the_appreciation_own(busy: Database) -> None:
    lifecycle.forget(busy, WS, "U007", NOW)
    with busy.transaction() as session:
        mismatched = session.scalar(
            select(func.count())
            .select_from(AppreciationRecipient)
            .join(Appreciation, Appreciation.id == AppreciationRecipient.appreciation_id)
            .where(
                (AppreciationRecipient.giver_id != Appreciation.giver_id)
                | (AppreciationRecipient.is_private != Appreciation.is_private)
                | (AppreciationRecipient.created_at != Appreciation.created_at)
                | (AppreciationRecipient.team_id != Appreciation.team_id)
            )
        )
    assert mismatched == 0


@pytest.mark.parametrize("period", ["week", "month", "all"])
def test_leaderboard_is_what_history_counts(busy: Database, period: str) -> None:
    lifecycle.forget(busy, WS, "U002", NOW)
    given = history(busy)
    since = appreciation.period_start(period, NOW, ZONE)

    top = appreciation.top(busy, WS, period, NOW, ZONE, limit=50)

    assert [(s.user_id, s.received, s.distinct_givers) for s in top] == expected_board(given, since)
    assert appreciation.top(busy, WS, period, NOW, ZONE, limit=3) == top[:3]


def test_stats_are_what_history_counts(busy: Database) -> None:
    given = history(busy)
    for uid in PEOPLE:
        stats = appreciation.stats(busy, WS, uid, NOW, ZONE, viewer=uid)
        for period in appreciation.PERIODS:
            since = appreciation.period_start(period, NOW, ZONE)
            seen = [a for a in given if since is None or a.at >= since]
            assert stats.received[period] == sum(uid in a.recipients for a in seen)
            assert stats.given[period] == sum(a.giver == uid for a in seen)
        mine = [a for a in given if uid in a.recipients][::-1][: appreciation.RECENT]
        assert [a.id for a in stats.recent] == [a.id for a in mine]


def test_home_advocates_are_ranked_and_quoted_as_from_history(busy: Database) -> None:
    given = history(busy)
    for since in (NOW - timedelta(days=30), NOW - timedelta(days=7), NOW - timedelta(days=60)):
        shown = digest.advocates_since(busy, WS, since, 5)
        assert as_tuples(shown) == expected_advocates(given, since, None)[:5]


@pytest.mark.parametrize("week", WEEKS)
def test_digest_is_what_history_counts(busy: Database, week: str) -> None:
    lifecycle.forget(busy, WS, "U001", NOW)
    given = history(busy)
    start, end = window(week).start, window(week).end
    in_week = [a for a in given if start <= a.at < end]
    gone = {"U003"}

    built = digest.build(busy, WS, window(week), ZONE)

    assert built is not None
    ranked = [a for a in expected_advocates(given, start, end) if a[0] not in gone]
    unnamed = [
        (
            uid,
            score,
            n,
            [g for g in givers if g not in gone and not g.startswith("X")],
            quote,
            giver if giver not in gone and not giver.startswith("X") else "",
        )
        for uid, score, n, givers, quote, giver in ranked
    ]
    assert as_tuples(built.advocates) == unnamed[:5]
    assert built.more_advocates == max(0, len(ranked) - 5)
    recognised = {uid for a in in_week if not a.private for uid in a.recipients}
    earlier = {uid for a in given if not a.private and a.at < start for uid in a.recipients}
    assert built.first_timers == sorted(recognised - earlier - gone)
    assert built.total == len(in_week)
    assert built.people_thanked == len({uid for a in in_week for uid in a.recipients})
    assert built.givers == len({a.giver for a in in_week})
    assert built.top_values == Counter(v for a in in_week for v in a.values).most_common(3)


def test_appreciation_recorded_as_earlier_moves_the_first_time_back(busy: Database) -> None:
    """`record` takes its time from the caller: an appreciation recorded after another, but
    dated before it, is the person's first time, in the kept totals and in the digests."""
    late = window(WEEKS[3]).start
    early = window(WEEKS[1]).start
    give(busy, WS, "U006", ["U099"], late + timedelta(hours=1))
    assert "U099" in first_timers(busy, WEEKS[3])
    give(busy, WS, "U007", ["U099"], early + timedelta(hours=1))
    give(busy, WS, "U008", ["U098"], early - timedelta(hours=1), private=True)
    assert_totals_match_history(busy)

    assert "U099" in first_timers(busy, WEEKS[1])
    assert "U099" not in first_timers(busy, WEEKS[3])
    assert "U098" not in first_timers(busy, WEEKS[0])


def first_timers(db: Database, week: str) -> list[str]:
    built = digest.build(db, WS, window(week), ZONE)
    assert built is not None
    return built.first_timers
