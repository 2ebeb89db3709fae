"""The value types every layer shares, at the bottom: `store/` and everything above import
them from here, and this module imports nothing of the app."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Workspace:
    """Whose data this is: every query is scoped to one."""

    team_id: str
    enterprise_id: str | None = None


@dataclass(frozen=True)
class TokenOwner:
    """The workspace a bot token belongs to (what auth.test says): all that token may serve.
    An org-wide token of Enterprise Grid serves every workspace of its organisation."""

    team_id: str
    enterprise_id: str | None = None
    name: str = ""
    org_wide: bool = False

    @property
    def workspace(self) -> Workspace:
        return Workspace(self.team_id, self.enterprise_id)

    def serves(self, workspace: Workspace) -> bool:
        if self.org_wide:
            return bool(self.enterprise_id) and workspace.enterprise_id == self.enterprise_id
        return workspace.team_id == self.team_id

    def __str__(self) -> str:
        return f"{self.name} ({self.team_id})" if self.name else self.team_id


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


@dataclass(frozen=True)
class Appreciated:
    """What an appreciation says, as the messages about it show it."""

    giver_id: str
    recipient_ids: tuple[str, ...]
    reason: str
    company_values: tuple[str, ...] = ()
    is_private: bool = False
    message_permalink: str | None = None
