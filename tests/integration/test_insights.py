"""The insights page's figures, on both databases, against a small history whose answer is
known; and what the page and its CSV may never show."""

from __future__ import annotations

import csv
import io
import statistics
import threading
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from bot import signin
from bot.domain import PersonInfo, Workspace
from bot.insights_page import respond
from bot.pages import insights as pages
from bot.services import appreciation, asks, insights, lifecycle, listening, teams
from bot.services import insight_tallies as tallies
from bot.slack import people
from bot.store.db import Database
from bot.store.models import (
    InsightSpan,
    InsightTalliedWeek,
    InsightTeamSpan,
    InsightValueWeek,
    InsightWeek,
)

WS = Workspace("T111")
OTHER = Workspace("T222")
# A fixed clock: a Wednesday, so the period's weeks are known.
NOW = datetime(2026, 11, 18, 15, tzinfo=UTC)
THIS_MONDAY = datetime(2026, 11, 16, tzinfo=UTC)
PRIVATE_MARKER = "zebra-private-words"
PRIVATE_CHANNEL_MARKER = "okapi-private-channel"
LISTEN_MARKER = "narwhal-listen-answer"
ASK_MARKER = "quokka-private-ask"


def viewer(user_id: str, is_admin: bool, team_id: str = WS.team_id) -> signin.Viewer:
    return signin.Viewer(team_id, user_id, user_id, is_admin)


def give(
    db: Database,
    ws: Workspace,
    giver: str,
    to: list[str],
    at: datetime,
    key: str,
    *,
    reason: str = "thanks",
    private: bool = False,
    said_in_private: bool = False,
    values: list[str] | None = None,
) -> None:
    draft = appreciation.Draft(
        giver,
        to,
        reason,
        values=values or [],
        is_private=private,
        said_in_private=said_in_private,
        source_key=key,
    )
    appreciation.record(db, ws, draft, PersonInfo(giver), at, daily_limit=10_000)


def ask(
    db: Database, asker: str, helper: str, at: datetime, key: str, request: str, private: bool
) -> int:
    started, _ = asks.start(
        db,
        WS,
        asker_id=asker,
        helper_id=helper,
        request=request,
        channel_id="C1",
        due_on=(at + timedelta(days=2)).date(),
        timezone="UTC",
        source_key=key,
        now=at,
        said_in_private=private,
    )
    return started.id


@pytest.fixture
def history(db: Database) -> Database:
    everyone = [PersonInfo(f"U{n}", name=f"Person {n}") for n in range(1, 7)]
    people.remember(db, WS, [*everyone, PersonInfo("UBOT", name="bot", is_bot=True)], NOW)
    people.remember(db, OTHER, [PersonInfo("U1", name="Elsewhere")], NOW)
    last_week = THIS_MONDAY - timedelta(days=5)
    # This week: U1 thanks U2 twice, U3 thanks U2; last week U2 thanks U1, U4 thanks U5.
    give(db, WS, "U1", ["U2"], NOW - timedelta(hours=2), "a1", values=["ownership"])
    give(db, WS, "U1", ["U2"], NOW - timedelta(hours=1), "a2")
    give(db, WS, "U3", ["U2"], NOW - timedelta(hours=1), "a3", values=["ownership", "care"])
    give(db, WS, "U2", ["U1"], last_week, "a4")
    give(db, WS, "U4", ["U5"], last_week, "a5", said_in_private=True, reason=PRIVATE_CHANNEL_MARKER)
    # Private: counted, never a pair, never quoted.
    give(db, WS, "U6", ["U4"], last_week, "p1", private=True, reason=PRIVATE_MARKER)
    # Before the period (4 weeks), and in another workspace.
    give(db, WS, "U1", ["U3"], THIS_MONDAY - timedelta(weeks=6), "old")
    give(db, OTHER, "U1", ["U9"], NOW - timedelta(hours=1), "other")
    # Asks: U5 asked U6, who committed and kept it on time; U1 asked U3, declined.
    kept = ask(db, "U5", "U6", last_week, "k1", "the quarterly numbers", private=False)
    asks.apply(db, WS, kept, "U6", "commit", last_week + timedelta(hours=3))
    asks.apply(db, WS, kept, "U6", "done", last_week + timedelta(days=1))
    declined = ask(db, "U1", "U3", last_week, "k2", ASK_MARKER, private=True)
    asks.apply(db, WS, declined, "U3", "decline", last_week + timedelta(hours=1), reason="busy")
    return db


def test_the_workspace_figures(history: Database) -> None:
    found = insights.for_workspace(history, WS, insights.period("4w", NOW), None, NOW)

    assert [week.starts_on.isoformat() for week in found.weeks] == [
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
    ]
    assert [week.appreciations for week in found.weeks] == [0, 0, 3, 3]
    assert [week.people_thanked for week in found.weeks] == [0, 0, 3, 1]
    # Six members (the bot is none); five gave, four were thanked.
    assert found.participation.members == 6
    assert (found.participation.gave, found.participation.received) == (5, 4)
    assert (found.participation.gave_before, found.participation.received_before) == (1, 1)
    # Private appreciation never ranks: U4 was thanked only in private.
    assert [(a.user_id, a.givers, a.received) for a in found.advocates] == [
        ("U2", 2, 3),
        ("U1", 1, 1),
        ("U5", 1, 1),
    ]
    assert found.values == [("ownership", 2), ("care", 1)]
    assert found.asks.asked == 2
    assert (found.asks.committed, found.asks.kept_on_time, found.asks.declined) == (1, 1, 1)
    assert found.asks.hours_to_commit == 3.0
    links = {(link.source, link.target): link for link in found.map.links}
    # U2 carried U1 (thanked twice) and U1 carried U2 once: one two-way pair.
    assert links[("U2", "U1")].thanks == 2 and links[("U2", "U1")].back == 1
    assert links[("U6", "U5")].kept == 1 and not links[("U6", "U5")].two_way
    # The private pair (U6 -> U4) is nowhere on the map.
    assert ("U4", "U6") not in links and ("U6", "U4") not in links
    assert "U9" not in found.map.nodes and "UBOT" not in found.map.nodes
    assert found.names["U2"] == "Person 2"


def test_a_forgotten_person_is_absent(history: Database) -> None:
    lifecycle.forget(history, WS, "U2", NOW)

    found = insights.for_workspace(history, WS, insights.period("4w", NOW), None, NOW)

    shown = {a.user_id for a in found.advocates} | set(found.map.nodes)
    assert not {user for user in shown if user == "U2" or user.startswith("X")}
    assert "Person 2" not in found.names.values()


def test_a_person_sees_their_own(history: Database) -> None:
    mine = insights.for_person(history, WS, "U4", insights.period("4w", NOW), NOW)

    # Their own private thanks counts for them...
    assert sum(week.received for week in mine.weeks) == 1
    assert sum(week.given for week in mine.weeks) == 1
    # ...but is not one of "their people": only public thanks name a colleague.
    assert [(c.user_id, c.thanked, c.thanked_me) for c in mine.people] == [("U5", 1, 0)]

    asker = insights.for_person(history, WS, "U1", insights.period("4w", NOW), NOW)
    assert [(line.role, line.colleague_id, line.request, line.status) for line in asker.asks] == [
        ("asked", "U3", None, "declined")
    ]
    helper = insights.for_person(history, WS, "U6", insights.period("4w", NOW), NOW)
    assert [(line.request, line.kept_on_time) for line in helper.asks] == [
        ("the quarterly numbers", True)
    ]


def test_nothing_private_is_shown_in_any_page_or_csv(history: Database) -> None:
    request = listening.Request(["U2"], f"about {LISTEN_MARKER}")
    [heard] = listening.start(
        history, WS, asker_id="U1", request=request, source_key="l1", now=NOW, zone=ZoneInfo("UTC")
    )
    listening.answer(
        history,
        WS,
        heard.id,
        "U2",
        need=LISTEN_MARKER,
        obstacle=LISTEN_MARKER,
        preference=LISTEN_MARKER,
        answer_key="l1-answer",
        now=NOW,
    )
    shown: list[str] = []
    for looking in [viewer("U1", True), *(viewer(f"U{n}", False) for n in range(1, 7))]:
        for name in insights.PERIODS:
            for path, tables in (
                ("/insights", [""]),
                ("/insights.csv", [*pages.WORKSPACE_TABLES, *pages.PERSONAL_TABLES]),
            ):
                for table in tables:
                    status, _, body = respond(
                        history, looking, path, f"period={name}&table={table}", NOW
                    )
                    if status.startswith("200"):
                        shown.append(body.decode())
    assert len(shown) > 50
    for marker in (PRIVATE_MARKER, PRIVATE_CHANNEL_MARKER, LISTEN_MARKER, ASK_MARKER):
        assert not [page for page in shown if marker in page], marker
    assert not [page for page in shown if "Elsewhere" in page or "U9" in page]


def test_the_page_for_an_admin_and_for_a_member(history: Database) -> None:
    status, headers, body = respond(history, viewer("U1", True), "/insights", "", NOW)
    page = body.decode()
    assert status == "200 OK" and ("Content-Type", "text/html; charset=utf-8") in headers
    assert "Insights: T111" in page and "The internal advocates" in page and "Person 2" in page
    # Every chart is an SVG with a text alternative, and parses.
    for chart in page.split("<svg")[1:]:
        svg = ElementTree.fromstring("<svg" + chart.split("</svg>")[0] + "</svg>")
        assert svg.get("role") == "img" and svg.get("aria-labelledby")
    assert 'href="/insights.csv?period=4w&amp;table=map"' in page

    _, _, own = respond(history, viewer("U1", True), "/insights", "view=me&period=year", NOW)
    assert "Your insights" in own.decode() and "The internal advocates" not in own.decode()

    _, _, member = respond(history, viewer("U2", False), "/insights", "period=quarter", NOW)
    assert "Your insights" in member.decode()
    assert "The internal advocates" not in member.decode()


def test_csv_tables_carry_the_filters_and_stay_inert(history: Database) -> None:
    people.remember(history, WS, [PersonInfo("U3", name="=HYPERLINK(1)")], NOW)

    status, headers, body = respond(
        history, viewer("U1", True), "/insights.csv", "period=4w&table=advocates", NOW
    )

    assert status == "200 OK" and dict(headers)["Content-Type"].startswith("text/csv")
    assert "insights-advocates-4w-2026-10-26.csv" in dict(headers)["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["Person", "Colleagues who thanked them (each week counted)", "Thanks"]
    status, _, _ = respond(history, viewer("U1", True), "/insights.csv", "table=nope", NOW)
    assert status.startswith("404")
    _, _, values = respond(history, viewer("U3", True), "/insights.csv", "table=map", NOW)
    assert "'=HYPERLINK(1)" in values.decode()


SALES, OPS, TINY = "SSALES", "SOPS", "STINY"


@pytest.fixture
def with_teams(history: Database) -> Database:
    # Sales carried Ops with a public thanks; Ops kept a commitment to Sales, unthanked.
    give(history, WS, "U4", ["U1"], NOW - timedelta(hours=3), "x1")
    kept = ask(history, "U1", "U4", NOW - timedelta(days=1), "x2", "the forecast", private=False)
    asks.apply(history, WS, kept, "U4", "commit", NOW - timedelta(hours=20))
    asks.apply(history, WS, kept, "U4", "done", NOW - timedelta(hours=10))
    teams.replace(
        history,
        WS,
        [
            teams.TeamInfo(SALES, "sales", "Sales", ["U1", "U2", "U3"]),
            teams.TeamInfo(OPS, "ops", "Ops", ["U4", "U5", "U6", "UBOT"]),
            teams.TeamInfo(TINY, "tiny", "Tiny", ["U1", "U6", "UBOT"]),
        ],
        NOW,
    )
    teams.replace(history, OTHER, [teams.TeamInfo(SALES, "s", "Elsewhere", ["U1", "U9"])], NOW)
    return history


def test_the_map_is_of_teams_when_there_are_teams(with_teams: Database) -> None:
    found = insights.for_workspace(with_teams, WS, insights.period("4w", NOW), None, NOW)

    # Tiny has two people (a bot is nobody): not broken out. Everyone is in a team: no "others".
    assert [(t.group_id, t.members) for t in found.teams] == [(OPS, 3), (SALES, 3)]
    assert found.map.of_teams and found.map.nodes == [OPS, SALES]
    assert found.map.directed == {(SALES, OPS): (1, 0), (OPS, SALES): (0, 1)}
    assert found.map.leaning() == [(SALES, OPS, 1)]
    assert found.map.unthanked() == [OPS]
    assert found.names[SALES] == "Sales"


def test_a_team_page_is_of_its_people(with_teams: Database) -> None:
    found = insights.for_workspace(with_teams, WS, insights.period("4w", NOW), SALES, NOW)

    assert found.team is not None and found.team.name == "Sales"
    assert found.participation.members == 3
    assert {a.user_id for a in found.advocates} <= {"U1", "U2", "U3"}
    # Ops' U4 kept a commitment to U1. (U4 thanking U1 is U1 carrying U4, not the reverse.)
    assert found.relied_on == [("U4", 1)]
    with pytest.raises(insights.NoSuchTeam):
        insights.for_workspace(with_teams, WS, insights.period("4w", NOW), TINY, NOW)


def test_the_team_pages_and_who_may_see_them(with_teams: Database) -> None:
    admin = viewer("U1", True)
    _, _, page = respond(with_teams, admin, "/insights", "period=quarter", NOW)
    assert 'href="/insights?period=quarter&amp;team=SSALES"' in page.decode()
    status, _, team_page = respond(with_teams, admin, "/insights", f"team={SALES}", NOW)
    assert status == "200 OK" and "Who Sales relies on" in team_page.decode()
    assert "Elsewhere" not in team_page.decode()
    status, _, _ = respond(with_teams, admin, "/insights", f"team={TINY}", NOW)
    assert status.startswith("404")
    # A member's own page, whatever the URL says.
    _, _, own = respond(with_teams, viewer("U2", False), "/insights", f"team={SALES}", NOW)
    assert "Your insights" in own.decode() and "relies on" not in own.decode()
    _, _, leaning = respond(with_teams, admin, "/insights.csv", "table=leaning", NOW)
    assert list(csv.reader(io.StringIO(leaning.decode())))[1:] == [["Sales", "Ops", "1"]]


# The tallies kept of closed weeks.


def test_closed_weeks_are_kept_and_read_back_the_same(history: Database) -> None:
    chosen = insights.period("4w", NOW)
    first = insights.for_workspace(history, WS, chosen, None, NOW)

    weeks = {row.week for row in _rows(history, InsightWeek)}
    # Last week is closed and kept; this week is read from history, never kept.
    assert (THIS_MONDAY - timedelta(weeks=1)).date() in weeks
    assert THIS_MONDAY.date() not in weeks
    assert insights.for_workspace(history, WS, chosen, None, NOW) == first
    # For its first hour, the week just ended is still read from history.
    assert tallies.closed_before(THIS_MONDAY + timedelta(minutes=30)) == THIS_MONDAY - timedelta(
        weeks=1
    )
    assert tallies.closed_before(THIS_MONDAY + timedelta(hours=1)) == THIS_MONDAY


def _rows(db: Database, model: Any) -> list[Any]:
    with db.transaction() as session:
        return list(session.scalars(select(model).where(model.team_id == WS.team_id)))


def test_forget_after_a_page_leaves_nothing_of_them_in_the_tallies(history: Database) -> None:
    chosen = insights.period("4w", NOW)
    insights.for_workspace(history, WS, chosen, None, NOW)
    assert "U2" in {row.user_id for row in _rows(history, InsightWeek)}

    lifecycle.forget(history, WS, "U2", NOW)

    assert "U2" not in {row.user_id for row in _rows(history, InsightWeek)}
    assert "U2" not in {row.user_id for row in _rows(history, InsightSpan)}
    found = insights.for_workspace(history, WS, chosen, None, NOW)
    assert "U2" not in {row.user_id for row in _rows(history, InsightWeek)}
    assert "U2" not in {row.user_id for row in _rows(history, InsightSpan)}
    # Their appreciation still counts, as anonymous thanks.
    assert [week.appreciations for week in found.weeks] == [0, 0, 3, 3]
    assert "U2" not in {a.user_id for a in found.advocates}


def test_a_change_of_teams_redraws_the_closed_weeks(with_teams: Database) -> None:
    chosen = insights.period("4w", NOW)
    before = insights.for_workspace(with_teams, WS, chosen, None, NOW)
    assert before.map.directed[SALES, OPS] == (1, 0)

    # U2 moves to Ops and U5 to Sales: last week's thanks from U2 to U1, and from U4 to U5,
    # are now Sales carrying Ops.
    teams.replace(
        with_teams,
        WS,
        [
            teams.TeamInfo(SALES, "sales", "Sales", ["U1", "U3", "U5"]),
            teams.TeamInfo(OPS, "ops", "Ops", ["U2", "U4", "U6"]),
        ],
        NOW,
    )

    after = insights.for_workspace(with_teams, WS, chosen, None, NOW)
    assert after.map.directed[SALES, OPS] == (3, 0)


def test_eight_pages_at_once_work_out_each_week_once(history: Database) -> None:
    chosen = insights.period("year", NOW)
    expected = insights.for_workspace(history, WS, insights.period("4w", NOW), None, NOW)
    with history.transaction() as session:
        session.execute(delete(InsightTalliedWeek))
        session.execute(delete(InsightWeek))
        session.execute(delete(InsightValueWeek))

    with ThreadPoolExecutor(8) as pool:
        pages = list(
            pool.map(lambda _: insights.for_workspace(history, WS, chosen, None, NOW), range(8))
        )

    assert all(page == pages[0] for page in pages)
    marks = [(row.kind, row.week) for row in _rows(history, InsightTalliedWeek)]
    assert len(marks) == len(set(marks))
    assert insights.for_workspace(history, WS, insights.period("4w", NOW), None, NOW) == expected


def test_the_tick_works_out_the_weeks_ahead_of_the_pages(with_teams: Database) -> None:
    # The first appreciation was six weeks before this one: six closed weeks of each kind.
    assert tallies.catch_up(with_teams, WS, NOW, most=4) == 4
    assert tallies.catch_up(with_teams, WS, NOW, most=4) == 4
    assert tallies.catch_up(with_teams, WS, NOW, most=4) == 4
    assert tallies.catch_up(with_teams, WS, NOW) == 0
    marks = sorted((row.kind, row.week) for row in _rows(with_teams, InsightTalliedWeek))
    first = (THIS_MONDAY - timedelta(weeks=6)).date()
    assert [week for kind, week in marks if kind == "people"] == [
        first + timedelta(weeks=n) for n in range(6)
    ]
    assert len([kind for kind, _ in marks if kind == "teams"]) == 6
    # A page then works nothing out: it reads what is kept.
    chosen = insights.period("quarter", NOW)
    assert tallies.ensure(with_teams, WS, tallies.PEOPLE, chosen.before.start, chosen.end, NOW) == 0
    # Its sums are kept for the next pages of the week, and deleted a week after it.
    insights.for_workspace(with_teams, WS, chosen, SALES, NOW)
    assert _rows(with_teams, InsightSpan) and _rows(with_teams, InsightTeamSpan)
    tallies.catch_up(with_teams, WS, NOW + timedelta(weeks=1))
    assert _rows(with_teams, InsightSpan)
    tallies.catch_up(with_teams, WS, NOW + timedelta(weeks=2))
    assert not _rows(with_teams, InsightSpan) and not _rows(with_teams, InsightTeamSpan)


def test_a_team_page_reads_its_closed_weeks_once_and_again_after_a_change(
    with_teams: Database,
) -> None:
    last_week = THIS_MONDAY - timedelta(days=5)
    give(with_teams, WS, "U5", ["U3"], last_week, "t1", values=["care"])
    chosen = insights.period("4w", NOW)

    ops = insights.for_workspace(with_teams, WS, chosen, OPS, NOW)
    assert ("U3", 1) in ops.relied_on and ops.values == [("care", 1)]
    assert _rows(with_teams, InsightTeamSpan)  # kept for the next page
    assert insights.for_workspace(with_teams, WS, chosen, OPS, NOW) == ops

    # U3 joins Ops: carrying within the team is not relying on anyone outside it.
    teams.replace(
        with_teams,
        WS,
        [
            teams.TeamInfo(SALES, "sales", "Sales", ["U1", "U2", "U6"]),
            teams.TeamInfo(OPS, "ops", "Ops", ["U3", "U4", "U5"]),
        ],
        NOW,
    )
    ops = insights.for_workspace(with_teams, WS, chosen, OPS, NOW)
    assert "U3" not in {user for user, _ in ops.relied_on}


def test_asks_kept_on_time_where_they_were_due_and_the_median_wait(db: Database) -> None:
    people.remember(db, WS, [PersonInfo("U1"), PersonInfo("U2")], NOW)
    due_on = (NOW - timedelta(days=3)).date()
    day_ends_utc = datetime(due_on.year, due_on.month, due_on.day, tzinfo=UTC) + timedelta(days=1)
    zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Paris", "UTC", "America/New_York"]
    expected_on_time, waits = 0, []
    for n, zone in enumerate(zones * 5):
        # Done from 16 hours before the day's end in UTC to 15 hours after it.
        done_at = day_ends_utc + timedelta(hours=-16 + (n * 31) // 25, minutes=n)
        created = done_at - timedelta(days=2)
        started, _ = asks.start(
            db,
            WS,
            asker_id="U1",
            helper_id="U2",
            request="r",
            channel_id="C1",
            due_on=due_on,
            timezone=zone,
            source_key=f"w{n}",
            now=created,
        )
        asks.apply(db, WS, started.id, "U2", "commit", created + timedelta(hours=n))
        asks.apply(db, WS, started.id, "U2", "done", done_at)
        waits.append(float(n))
        expected_on_time += done_at < asks.end_of_day(due_on, zone)

    found = insights.for_workspace(db, WS, insights.period("4w", NOW), None, NOW).asks

    assert 0 < expected_on_time < len(waits)
    assert (found.kept_on_time, found.kept_late) == (expected_on_time, 25 - expected_on_time)
    assert found.hours_to_commit == pytest.approx(statistics.median(waits))
    # An even count: the mean of the middle two.
    more, _ = asks.start(
        db,
        WS,
        asker_id="U1",
        helper_id="U2",
        request="r",
        channel_id="C1",
        due_on=None,
        timezone="UTC",
        source_key="w-even",
        now=NOW - timedelta(days=1),
    )
    asks.apply(db, WS, more.id, "U2", "commit", NOW - timedelta(days=1) + timedelta(hours=100))
    found = insights.for_workspace(db, WS, insights.period("4w", NOW), None, NOW).asks
    assert found.hours_to_commit == pytest.approx(statistics.median([*waits, 100.0]))


def test_a_page_as_of_a_later_time_keeps_no_week_that_has_not_ended(db: Database) -> None:
    now = datetime.now(UTC)
    people.remember(db, WS, [PersonInfo("U1"), PersonInfo("U2")], now)
    give(db, WS, "U1", ["U2"], now - timedelta(weeks=2), "then")
    later = now + timedelta(weeks=3)

    insights.for_workspace(db, WS, insights.period("quarter", later), None, later)

    kept = {row.week for row in _rows(db, InsightTalliedWeek)}
    assert kept and max(kept) < tallies.closed_before(now).date()
    # What is recorded now still counts on the later page.
    give(db, WS, "U2", ["U1"], now, "now")
    found = insights.for_workspace(db, WS, insights.period("quarter", later), None, later)
    assert sum(week.appreciations for week in found.weeks) == 2


def test_forget_waits_for_a_week_being_worked_out_then_erases_it(history: Database) -> None:
    if history.url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: a week is worked out in one statement")
    last_week = THIS_MONDAY - timedelta(weeks=1)
    with history.transaction() as session:
        # A week being worked out from history that still names U2...
        tallies.work_out(session, WS, tallies.PEOPLE, last_week, NOW)
        forgetting = threading.Thread(target=lifecycle.forget, args=(history, WS, "U2", NOW))
        forgetting.start()
        forgetting.join(timeout=1.5)
        # ...holds the erasure until it is kept,
        assert forgetting.is_alive()
    forgetting.join(timeout=30)
    # which then erases it too.
    assert "U2" not in {row.user_id for row in _rows(history, InsightWeek)}
