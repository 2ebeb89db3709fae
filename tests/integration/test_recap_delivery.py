"""The year-end recap rides on each person's first check-in on or after the recap date, in
their own timezone: once per person and year, across ticks, processes and the new year."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.domain import PersonInfo, Workspace
from bot.jobs.checkins import queue_checkins
from bot.jobs.tick import tick
from bot.runtime import Runtime
from bot.services import appreciation, checkins, workspaces
from bot.services.people import mark_used
from bot.services.settings import for_workspace
from bot.slack import people
from bot.store.models import OutboxMessage
from tests.conftest import MovableClock
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
ZONES = {
    "UAKL": "Pacific/Auckland",
    "UTOK": "Asia/Tokyo",
    "UPAR": "Europe/Paris",
    "UNY": "America/New_York",
    "ULA": "America/Los_Angeles",
}
QUIET = "UQUIET"  # uses the app, gave and received nothing


@pytest.fixture
def year_of_thanks(runtime: Runtime, slack: FakeSlack, clock: MovableClock) -> Runtime:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    zones = {**ZONES, QUIET: "UTC"}
    for user_id, zone in zones.items():
        slack.add_user(user_id, tz=zone)
    people.remember(runtime.db, WS, [PersonInfo(u, tz=z) for u, z in zones.items()], clock())
    mark_used(runtime.db, WS, list(zones), clock())
    ids = list(ZONES)
    for n, giver in enumerate(ids):
        to = ids[(n + 1) % len(ids)]
        appreciation.record(
            runtime.db,
            WS,
            appreciation.Draft(giver, [to], "for the year", source_key=f"y{n}"),
            PersonInfo(giver),
            datetime(2026, 5, 1, tzinfo=UTC),
            daily_limit=10,
        )
    return runtime


def recaps(runtime: Runtime) -> dict[str, str]:
    """Queued recaps: person -> key."""
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("recap:"))
        )
        found: dict[str, str] = {}
        for row in rows:
            assert row.user_id not in found, "two recaps for one person"
            found[str(row.user_id)] = row.dedupe_key
        return found


def test_each_person_gets_one_recap_with_their_first_checkin_from_december_10(
    year_of_thanks: Runtime, clock: MovableClock
) -> None:
    runtime = year_of_thanks
    config = for_workspace(runtime.db, WS, runtime.settings)
    # Monday 7 December, every timezone's 09:30 passed: check-ins, no recap yet.
    queue_checkins(runtime, WS, config, datetime(2026, 12, 8, 12, tzinfo=UTC))
    assert recaps(runtime) == {}
    # Monday 14 December, walked hour by hour: each person's recap at their check-in.
    start = datetime(2026, 12, 13, 18, tzinfo=UTC)  # 07:00 Monday in Auckland
    seen: dict[str, datetime] = {}
    for hour in range(30):
        now = start + timedelta(hours=hour)
        queue_checkins(runtime, WS, config, now)
        for user_id in recaps(runtime):
            seen.setdefault(user_id, now)
    assert set(seen) == set(ZONES)  # nobody with nothing to recap
    for user_id, zone in ZONES.items():
        local = seen[user_id].astimezone(__import__("zoneinfo").ZoneInfo(zone))
        assert (local.weekday(), local.hour) == (0, 10), (user_id, local)  # 09:30 -> the 10:00 tick
    assert set(recaps(runtime).values()) == {f"recap:2026:{u}" for u in ZONES}
    # The next weeks' check-ins carry no second recap.
    for week in (1, 2, 3):
        queue_checkins(
            runtime, WS, config, datetime(2026, 12, 15, 12, tzinfo=UTC) + timedelta(weeks=week)
        )
    assert len(recaps(runtime)) == len(ZONES)


def test_a_person_back_in_january_gets_last_years_recap(
    year_of_thanks: Runtime, clock: MovableClock
) -> None:
    runtime = year_of_thanks
    for user_id in ZONES:
        checkins.set_participation(
            runtime.db, WS, user_id, "pause", datetime(2026, 12, 8, tzinfo=UTC)
        )
    config = for_workspace(runtime.db, WS, runtime.settings)
    queue_checkins(runtime, WS, config, datetime(2026, 12, 14, 18, tzinfo=UTC))
    assert recaps(runtime) == {}  # paused through December
    queue_checkins(runtime, WS, config, datetime(2027, 1, 11, 18, tzinfo=UTC))
    assert set(recaps(runtime).values()) == {f"recap:2026:{u}" for u in ZONES}


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_concurrent_ticks_queue_one_recap_per_person(
    year_of_thanks: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    runtime = year_of_thanks
    at = datetime(2026, 12, 14, 18, tzinfo=UTC)  # past 09:30 Monday everywhere
    clock.now = at  # the clock the messages are sent on
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tick(runtime, at)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(recaps(runtime)) == set(ZONES)
    for user_id in ZONES:
        sent = [m for m in slack.messages(user_id) if "in thanks" in m["text"]]
        assert len(sent) == 1, user_id
    assert not [m for m in slack.messages(QUIET) if "in thanks" in m["text"]]


def test_no_recap_date_means_no_recaps(year_of_thanks: Runtime) -> None:
    from dataclasses import replace

    runtime = replace(year_of_thanks, settings=replace(year_of_thanks.settings, recap_date=None))
    config = for_workspace(runtime.db, WS, runtime.settings)
    queue_checkins(runtime, WS, config, datetime(2026, 12, 14, 18, tzinfo=UTC))
    assert recaps(runtime) == {}


def test_recaps_left_behind_by_a_run_that_stopped_are_queued_by_the_next(
    year_of_thanks: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.jobs import checkins as fan_out

    runtime = year_of_thanks
    config = for_workspace(runtime.db, WS, runtime.settings)
    at = datetime(2026, 12, 14, 18, tzinfo=UTC)  # past 09:30 Monday everywhere
    # A run that queued the check-ins and stopped before the recaps (killed, or failed).
    with monkeypatch.context() as patched:
        patched.setattr(fan_out, "_queue_recaps", lambda *args, **kwargs: None)
        assert queue_checkins(runtime, WS, config, at) >= len(ZONES)  # and the quiet one
    assert recaps(runtime) == {}

    assert queue_checkins(runtime, WS, config, at + timedelta(minutes=15)) == 0

    assert set(recaps(runtime).values()) == {f"recap:2026:{u}" for u in ZONES}
    queue_checkins(runtime, WS, config, at + timedelta(minutes=30))
    assert len(recaps(runtime)) == len(ZONES)
