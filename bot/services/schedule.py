"""Weeks and weekly instants in a timezone: when something weekly is due, for which week, and
which days a digest covers.

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


def digest_window(
    week: str,
    day: str,
    hhmm: str,
    zone: ZoneInfo,
    *,
    previous_end: datetime | None = None,
    next_start: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) of the days the digest scheduled in `week` covers, as UTC instants.

    It ends at its own scheduled instant and starts where the previous digest ended
    (`previous_end`), so that every moment is in exactly one digest however the schedule
    moves; without a previous digest, at the previous week's scheduled instant: seven days
    in `zone`, 167 or 169 hours across a daylight-saving change. It never reaches into the
    days a later digest covers (`next_start`). start == end: it has no days of its own.
    """
    end = scheduled_instant(week, day, hhmm, zone)
    if previous_end is None:
        start = scheduled_instant(shift_week(week, -1), day, hhmm, zone)
    else:
        start = previous_end
    if next_start is not None:
        end = min(end, next_start)
    return start, max(start, end)


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
