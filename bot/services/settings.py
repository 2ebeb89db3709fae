"""A workspace's effective settings: the `ADVOCATE_*` defaults, as the workspace sees them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.services.workspace import Workspace
from bot.store.db import Database

AUDIENCES = ("users", "all", "channel")


@dataclass(frozen=True)
class WorkspaceSettings:
    digest_channel: str | None
    digest_day: str
    digest_time: str
    timezone: str
    checkin_day: str
    checkin_time: str
    checkin_audience: str  # users | all | channel
    checkin_channel: str | None
    daily_limit: int
    values: tuple[str, ...]
    admins: tuple[str, ...]


def for_workspace(db: Database, workspace: Workspace, settings: Settings) -> WorkspaceSettings:
    """The settings that apply to `workspace` now (read at every tick, so changes apply)."""
    return WorkspaceSettings(
        digest_channel=settings.digest_channel,
        digest_day=settings.digest_day,
        digest_time=settings.digest_time,
        timezone=settings.timezone,
        checkin_day=settings.checkin_day,
        checkin_time=settings.checkin_time,
        checkin_audience="users",
        checkin_channel=None,
        daily_limit=settings.daily_limit,
        values=settings.values,
        admins=settings.admins,
    )
