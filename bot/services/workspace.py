"""The small value types every service shares."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Workspace:
    """Whose data this is: every query is scoped to one."""

    team_id: str
    enterprise_id: str | None = None


@dataclass(frozen=True)
class PersonInfo:
    user_id: str
    name: str = ""
    tz: str | None = None
    is_bot: bool = False
    deleted: bool = False
    is_admin: bool = False
    is_guest: bool = False

    def zone(self, fallback: str = "UTC") -> ZoneInfo:
        """The person's own timezone, or `fallback` when Slack has none."""
        for candidate in (self.tz, fallback, "UTC"):
            if candidate:
                try:
                    return ZoneInfo(candidate)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo("UTC")
