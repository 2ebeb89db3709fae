"""Weeks and weekly instants in a timezone: when something weekly is due, and for which week.

Instants are computed from IANA zone names with zoneinfo each time, never from a stored
offset, so a daylight-saving change moves them the way people's clocks move.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS

GRACE = timedelta(hours=24)
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def week_of(instant: datetime, zone: ZoneInfo) -> str:
    """The ISO week (`2026-W48`) that `instant` falls in, in `zone`."""
    year, week, _ = instant.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str:
    """Validate `YYYY-Www`; raises ValueError with a readable message."""
    match = _WEEK.fullmatch(text.strip())
    if not match:
        raise ValueError(f"a week looks like 2026-W48, not {text!r}")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week}") from None
    return f"{year}-W{week:02d}"


def _monday(week: str) -> date:
    match = _WEEK.fullmatch(week)
    assert match, week
    return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)


def shift_week(week: str, weeks: int) -> str:
    year, number, _ = (_monday(week) + timedelta(weeks=weeks)).isocalendar()
    return f"{year}-W{number:02d}"


def week_bounds(week: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of `week` in `zone`, as UTC instants."""
    monday = _monday(week)
    start = datetime.combine(monday, time(0), zone)
    end = datetime.combine(monday + timedelta(weeks=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def scheduled_instant(week: str, day: str, hhmm: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of `day` at `hhmm` local time in `week`."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    local_day = _monday(week) + timedelta(days=WEEKDAYS.index(day))
    # A wall time skipped by a DST jump resolves forward, as people's clocks do.
    return datetime.combine(local_day, time(hour, minute), zone).astimezone(UTC)


def due_week(
    now: datetime, day: str, hhmm: str, zone: ZoneInfo, grace: timedelta = GRACE
) -> str | None:
    """The week whose weekly run is due at `now`, if any.

    Due from the scheduled instant until `grace` later, and never once the next week's
    run is due: a run missed while the app was down is caught up, but not forever.
    """
    current = week_of(now, zone)
    for week in (current, shift_week(current, -1)):
        start = scheduled_instant(week, day, hhmm, zone)
        until = min(start + grace, scheduled_instant(shift_week(week, 1), day, hhmm, zone))
        if start <= now < until:
            return week
    return None
