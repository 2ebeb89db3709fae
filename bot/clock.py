"""The one source of "now", so that `advocate tick --now` and tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(instant: datetime) -> Clock:
    """A clock that always answers `instant` (made UTC-aware if naive)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return lambda: instant
