"""Weeks and weekly instants: ISO weeks per zone, DST-aware instants, when a run is due, and
which days each digest covers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import WEEKDAYS
from bot.services.schedule import (
    GRACE,
    digest_window,
    due_week,
    parse_week,
    scheduled_instant,
    shift_week,
    week_bounds,
    week_of,
)

ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- week_of ------------------------------------------------------------------------------


def test_2026_has_a_week_53_that_runs_into_january_2027() -> None:
    # 2026 starts on a Thursday, so it has 53 ISO weeks; 1-3 January 2027 belong to it.
    assert date(2027, 1, 1).isocalendar()[:2] == (2026, 53)
    assert week_of(utc(2026, 12, 31, 12, 0), ZoneInfo("UTC")) == "2026-W53"
    assert week_of(utc(2027, 1, 1, 0, 0), ZoneInfo("UTC")) == "2026-W53"
    assert week_of(utc(2027, 1, 3, 23, 59), ZoneInfo("UTC")) == "2026-W53"
    assert week_of(utc(2027, 1, 4, 0, 0), ZoneInfo("UTC")) == "2027-W01"


def test_week_of_a_sunday_night_in_utc_is_the_next_week_in_tokyo() -> None:
    sunday_night = utc(2026, 11, 29, 23, 30)  # Monday 08:30 in Tokyo
    assert week_of(sunday_night, ZoneInfo("UTC")) == "2026-W48"
    assert week_of(sunday_night, ZoneInfo("Asia/Tokyo")) == "2026-W49"


def test_week_of_a_monday_morning_in_utc_is_the_previous_week_in_new_york() -> None:
    monday_early = utc(2026, 11, 30, 3, 0)  # Sunday 22:00 in New York
    assert week_of(monday_early, ZoneInfo("UTC")) == "2026-W49"
    assert week_of(monday_early, ZoneInfo("America/New_York")) == "2026-W48"


def test_week_of_crosses_the_iso_year_in_tokyo_before_utc() -> None:
    instant = utc(2027, 1, 3, 20, 0)  # Monday 4 January 05:00 in Tokyo
    assert week_of(instant, ZoneInfo("UTC")) == "2026-W53"
    assert week_of(instant, ZoneInfo("Asia/Tokyo")) == "2027-W01"


# --- parse_week and shift_week ------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-W48", "2026-W01", "2026-W53", " 2026-W48\n"])
def test_parse_week_accepts_iso_weeks_and_returns_them_normalised(text: str) -> None:
    assert parse_week(text) == text.strip()


@pytest.mark.parametrize("text", ["2026-48", "2026W48", "26-W48", "2026-W4", "week 48", ""])
def test_parse_week_refuses_other_shapes_and_shows_an_example(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_week(text)
    assert str(error.value) == f"a week looks like 2026-W48, not {text!r}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-W54", "2026 has no week 54"),
        ("2027-W53", "2027 has no week 53"),  # 2027 starts on a Friday: 52 weeks
        ("2026-W00", "2026 has no week 0"),
    ],
)
def test_parse_week_refuses_weeks_the_year_does_not_have(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_week(text)


@pytest.mark.parametrize(
    ("week", "weeks", "expected"),
    [
        ("2026-W48", 1, "2026-W49"),
        ("2026-W52", 1, "2026-W53"),
        ("2026-W53", 1, "2027-W01"),
        ("2027-W01", -1, "2026-W53"),
        ("2027-W52", 1, "2028-W01"),
        ("2026-W48", -48, "2025-W52"),
    ],
)
def test_shift_week_moves_across_iso_years(week: str, weeks: int, expected: str) -> None:
    assert shift_week(week, weeks) == expected


# --- week_bounds and scheduled_instant ----------------------------------------------------


def test_week_bounds_are_local_midnights_as_utc_instants() -> None:
    assert week_bounds("2026-W48", ZoneInfo("Europe/Paris")) == (
        utc(2026, 11, 22, 23, 0),
        utc(2026, 11, 29, 23, 0),
    )


def test_week_bounds_of_the_week_dst_ends_are_an_hour_longer_than_seven_days() -> None:
    start, end = week_bounds("2026-W44", ZoneInfo("America/New_York"))
    assert (start, end) == (utc(2026, 10, 26, 4, 0), utc(2026, 11, 2, 5, 0))
    assert end - start == timedelta(days=7, hours=1)


@pytest.mark.parametrize(
    ("week", "day", "hhmm", "zone", "expected"),
    [
        pytest.param(
            "2026-W48", "fri", "16:00", "Europe/Paris", utc(2026, 11, 27, 15, 0), id="paris"
        ),
        # New York leaves daylight saving time on Sunday 1 November 2026.
        pytest.param(
            "2026-W44", "mon", "09:30", "America/New_York", utc(2026, 10, 26, 13, 30), id="ny-edt"
        ),
        pytest.param(
            "2026-W45", "mon", "09:30", "America/New_York", utc(2026, 11, 2, 14, 30), id="ny-est"
        ),
        # London leaves summer time on Sunday 25 October 2026.
        pytest.param(
            "2026-W43", "mon", "09:30", "Europe/London", utc(2026, 10, 19, 8, 30), id="london-bst"
        ),
        pytest.param(
            "2026-W44", "mon", "09:30", "Europe/London", utc(2026, 10, 26, 9, 30), id="london-gmt"
        ),
        pytest.param(
            "2026-W48", "mon", "08:30", "Asia/Tokyo", utc(2026, 11, 22, 23, 30), id="tokyo"
        ),
        pytest.param(
            "2026-W53", "sun", "23:00", "Asia/Kolkata", utc(2027, 1, 3, 17, 30), id="kolkata-w53"
        ),
    ],
)
def test_scheduled_instant_follows_the_zone_clock(
    week: str, day: str, hhmm: str, zone: str, expected: datetime
) -> None:
    instant = scheduled_instant(week, day, hhmm, ZoneInfo(zone))
    assert instant == expected
    assert instant.utcoffset() == timedelta(0)


def test_scheduled_instant_in_a_spring_forward_gap_resolves_forward() -> None:
    # 02:30 on Sunday 8 March 2026 does not exist in New York: clocks go 02:00 -> 03:00.
    zone = ZoneInfo("America/New_York")
    instant = scheduled_instant("2026-W10", "sun", "02:30", zone)
    assert instant == utc(2026, 3, 8, 7, 30)
    assert instant.astimezone(zone).strftime("%H:%M") == "03:30"
    # It lies between the instants of the valid times on either side of the gap.
    assert scheduled_instant("2026-W10", "sun", "01:59", zone) < instant
    assert instant <= scheduled_instant("2026-W10", "sun", "03:30", zone)


# --- due_week -----------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")
PARIS_W48 = utc(2026, 11, 27, 15, 0)  # Friday 16:00 in Paris


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(-timedelta(days=6), None, id="days-before"),
        pytest.param(-MINUTE, None, id="one-minute-before"),
        pytest.param(timedelta(0), "2026-W48", id="at-the-instant"),
        pytest.param(timedelta(hours=23, minutes=59), "2026-W48", id="23h59-later"),
        pytest.param(timedelta(hours=24), None, id="24h-later"),
        pytest.param(timedelta(days=3), None, id="into-the-next-week"),
        pytest.param(timedelta(days=7), "2026-W49", id="next-week-instant"),
    ],
)
def test_due_week_is_due_for_24_hours_from_the_scheduled_instant(
    offset: timedelta, expected: str | None
) -> None:
    assert due_week(PARIS_W48 + offset, "fri", "16:00", PARIS) == expected


@pytest.mark.parametrize("zone_name", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_due_week_with_a_long_grace_hands_over_at_the_next_weeks_instant(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    grace = timedelta(days=8)
    this_run = scheduled_instant("2026-W48", "sun", "23:00", zone)
    next_run = scheduled_instant("2026-W49", "sun", "23:00", zone)

    def due(now: datetime) -> str | None:
        return due_week(now, "sun", "23:00", zone, grace=grace)

    assert due(this_run) == "2026-W48"
    assert due(this_run + timedelta(days=3)) == "2026-W48"  # caught up after downtime
    assert due(next_run - MINUTE) == "2026-W48"
    assert due(next_run) == "2026-W49"
    assert due(next_run + HOUR) == "2026-W49"  # the next local week has started by now
    assert due(next_run + timedelta(days=2)) == "2026-W49"


@pytest.mark.parametrize(
    ("zone_name", "day", "hhmm"),
    [
        ("UTC", "mon", "00:00"),
        ("America/New_York", "sun", "01:30"),  # ambiguous on 1 November 2026
        ("Europe/London", "sun", "01:30"),  # ambiguous on 25 October 2026
        ("Australia/Sydney", "sun", "02:30"),  # skipped on 4 October 2026
        ("Asia/Kolkata", "fri", "16:45"),
        ("Asia/Tokyo", "mon", "08:30"),
    ],
)
def test_walking_hour_by_hour_gives_one_24_hour_window_per_week(
    zone_name: str, day: str, hhmm: str
) -> None:
    zone = ZoneInfo(zone_name)
    start = utc(2026, 9, 21, 0, 0)
    hours = 8 * 7 * 24  # late September to mid-November: every DST change of the zones
    walk = [due_week(start + i * HOUR, day, hhmm, zone) for i in range(hours)]

    windows: list[tuple[str, int, int]] = []  # (week, first index, last index)
    for i, week in enumerate(walk):
        if week is None:
            continue
        if windows and windows[-1][0] == week and windows[-1][2] == i - 1:
            windows[-1] = (week, windows[-1][1], i)
        else:
            windows.append((week, i, i))

    weeks = [week for week, _, _ in windows]
    assert len(weeks) == len(set(weeks)), f"a week was due in two separate windows: {weeks}"
    assert len(windows) >= 7
    for previous, following in pairwise(weeks):
        assert following == shift_week(previous, 1)
    for week, first, last in windows:
        if first == 0 or last == hours - 1:
            continue  # cut off by the walk's ends
        assert last - first + 1 == 24, f"{week} was due for {last - first + 1} hours"
        instant = scheduled_instant(week, day, hhmm, zone)
        assert start + (first - 1) * HOUR < instant <= start + first * HOUR


# --- properties ---------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.sampled_from(WEEKDAYS)
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


@settings(max_examples=300, deadline=None)
@given(now=instants, zone=zones, day=days, hhmm=times)
def test_due_week_only_names_a_week_within_24_hours_of_its_instant(
    now: datetime, zone: ZoneInfo, day: str, hhmm: str
) -> None:
    week = due_week(now, day, hhmm, zone)
    if week is not None:
        start = scheduled_instant(week, day, hhmm, zone)
        assert start <= now < start + GRACE
        assert week in (week_of(now, zone), shift_week(week_of(now, zone), -1))


@settings(max_examples=300, deadline=None)
@given(
    monday=st.dates(min_value=date(2000, 1, 3), max_value=date(2037, 12, 28)),
    zone=zones,
    day=days,
    hhmm=times,
    inside=st.timedeltas(min_value=timedelta(0), max_value=GRACE - timedelta(seconds=1)),
    outside=st.one_of(
        st.timedeltas(min_value=-timedelta(days=6), max_value=-timedelta(seconds=1)),
        st.timedeltas(min_value=GRACE, max_value=timedelta(days=6)),
    ),
)
def test_due_week_names_the_week_throughout_its_24_hours_and_not_outside(
    monday: date,
    zone: ZoneInfo,
    day: str,
    hhmm: str,
    inside: timedelta,
    outside: timedelta,
) -> None:
    year, number, _ = monday.isocalendar()
    week = f"{year}-W{number:02d}"
    start = scheduled_instant(week, day, hhmm, zone)
    assert due_week(start + inside, day, hhmm, zone) == week
    assert due_week(start + outside, day, hhmm, zone) != week


# --- digest_window ------------------------------------------------------------------------


def test_a_first_digest_covers_the_seven_days_up_to_its_instant() -> None:
    # The 2026-W49 digest, Friday 4 December 16:00 in Paris: from Friday 27 November 16:00.
    assert digest_window("2026-W49", "fri", "16:00", PARIS) == (
        utc(2026, 11, 27, 15, 0),
        utc(2026, 12, 4, 15, 0),
    )


@pytest.mark.parametrize(
    ("week", "hours"),
    [
        pytest.param("2026-W14", 167, id="paris-spring-forward-29-march"),
        pytest.param("2026-W44", 169, id="paris-fall-back-25-october"),
        pytest.param("2026-W15", 168, id="the-week-after"),
    ],
)
def test_a_digest_in_a_dst_week_covers_seven_local_days(week: str, hours: int) -> None:
    start, end = digest_window(week, "fri", "16:00", PARIS)
    assert end - start == timedelta(hours=hours)
    local_start, local_end = start.astimezone(PARIS), end.astimezone(PARIS)
    assert local_end.date() - local_start.date() == timedelta(days=7)
    assert local_start.strftime("%a %H:%M") == local_end.strftime("%a %H:%M") == "Fri 16:00"


def test_the_digest_scheduled_monday_morning_covers_the_week_before_it() -> None:
    # The finding: with the digest on Monday 09:00 the ISO week held Monday morning only.
    start, end = digest_window("2026-W49", "mon", "09:00", PARIS)
    assert (start, end) == (utc(2026, 11, 23, 8, 0), utc(2026, 11, 30, 8, 0))
    assert week_bounds("2026-W49", PARIS)[0] == utc(2026, 11, 29, 23, 0)


def test_a_digest_a_week_after_one_at_midnight_holds_what_was_given_in_between() -> None:
    # The reproduction: digest Monday 00:00 UTC, appreciation on Monday at noon, and the
    # tick a week later at 00:01. The ISO week of that tick starts after the appreciation.
    given = utc(2026, 12, 7, 12, 0)
    tick = utc(2026, 12, 14, 0, 1)
    week = due_week(tick, "mon", "00:00", ZoneInfo("UTC"))
    assert week == "2026-W51"
    start, end = digest_window(week, "mon", "00:00", ZoneInfo("UTC"))
    assert start <= given < end
    assert not week_bounds(week, ZoneInfo("UTC"))[0] <= given


def test_after_a_schedule_change_the_digest_starts_where_the_last_one_ended() -> None:
    friday = utc(2026, 11, 27, 15, 0)  # the 2026-W48 digest, Friday 16:00 in Paris
    # Moved to Monday 09:00: the next one covers Friday evening to Monday morning.
    assert digest_window("2026-W49", "mon", "09:00", PARIS, previous_end=friday) == (
        friday,
        utc(2026, 11, 30, 8, 0),
    )
    # Moved to Tuesday 10:00 in Tokyo: the same rule, whatever the zone.
    tokyo = ZoneInfo("Asia/Tokyo")
    assert digest_window("2026-W49", "tue", "10:00", tokyo, previous_end=friday) == (
        friday,
        utc(2026, 12, 1, 1, 0),
    )


def test_a_digest_scheduled_before_the_last_one_ended_has_no_days_of_its_own() -> None:
    # Sunday 23:30 in Honolulu, then moved to Monday 00:30 in Tokyo: the next week's instant
    # comes 18 hours before the last digest in UTC, and nothing is covered twice.
    previous_end = scheduled_instant("2026-W48", "sun", "23:30", ZoneInfo("Pacific/Honolulu"))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert scheduled_instant("2026-W49", "mon", "00:30", tokyo) < previous_end
    start, end = digest_window("2026-W49", "mon", "00:30", tokyo, previous_end=previous_end)
    assert start == end == previous_end


def test_a_digest_never_reaches_into_what_a_later_digest_covers() -> None:
    later_start = utc(2026, 11, 25, 9, 0)  # a later week's digest began here
    assert digest_window("2026-W48", "fri", "16:00", PARIS, next_start=later_start) == (
        utc(2026, 11, 20, 15, 0),
        later_start,
    )
    # The previous digest ended after that: nothing is left to this one.
    start, end = digest_window(
        "2026-W48",
        "fri",
        "16:00",
        PARIS,
        previous_end=utc(2026, 11, 26, 9, 0),
        next_start=later_start,
    )
    assert start == end


schedules = st.tuples(st.sampled_from(("UTC", "Europe/Paris", *ZONES)).map(ZoneInfo), days, times)


@settings(max_examples=200, deadline=None)
@given(
    first=st.dates(min_value=date(2000, 1, 3), max_value=date(2037, 1, 5)),
    plan=st.lists(st.tuples(schedules, st.booleans()), min_size=2, max_size=30),
)
def test_digests_of_consecutive_weeks_tile_time_whatever_the_schedule_changes(
    first: date, plan: list[tuple[tuple[ZoneInfo, str, str], bool]]
) -> None:
    """Each week's digest starts where the last posted one ended, under any schedule; weeks
    without appreciation post nothing (and record nothing)."""
    year, number, _ = first.isocalendar()
    week = f"{year}-W{number:02d}"
    posted: list[tuple[datetime, datetime]] = []
    for (zone, day, hhmm), has_appreciation in plan:
        previous_end = posted[-1][1] if posted else None
        start, end = digest_window(week, day, hhmm, zone, previous_end=previous_end)
        assert start <= end
        assert end <= scheduled_instant(week, day, hhmm, zone) or start == end
        if previous_end is not None:
            assert start == previous_end
        else:
            assert end - start <= timedelta(days=7, hours=1)
        if has_appreciation and start < end:
            posted.append((start, end))
        week = shift_week(week, 1)
    for (_, end), (start, _) in pairwise(posted):
        assert start == end  # no gap, no overlap
