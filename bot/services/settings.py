"""A workspace's effective settings: the `ADVOCATE_*` defaults, overridden by what its admins
set in the App Home. Read at every tick and every request, so a change applies at once."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, select

from bot.config import WEEKDAYS, Settings
from bot.domain import PersonInfo, Workspace
from bot.store.db import Database
from bot.store.models import Person, SettingsChange, WorkspaceSetting

AUDIENCES = ("users", "all", "channel")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_VALUE = re.compile(r"[a-z][\w-]*")


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
    values: tuple[str, ...]  # the values people can choose now
    retired_values: tuple[str, ...]
    admins: tuple[str, ...]


EDITABLE = (
    "digest_channel",
    "digest_day",
    "digest_time",
    "timezone",
    "checkin_day",
    "checkin_time",
    "checkin_audience",
    "checkin_channel",
    "daily_limit",
    "values",
    "retired_values",
    "admins",
)


def defaults(settings: Settings) -> WorkspaceSettings:
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
        retired_values=(),
        admins=settings.admins,
    )


# Built once: every request that needs the settings reads them by it.
_OVERRIDES = select(WorkspaceSetting.overrides).where(WorkspaceSetting.team_id == bindparam("team"))


def for_workspace(db: Database, workspace: Workspace, settings: Settings) -> WorkspaceSettings:
    """The settings that apply to `workspace` now."""
    with db.alone() as connection:
        stored = connection.scalar(_OVERRIDES, {"team": workspace.team_id})
    overrides = dict(stored) if stored else {}
    base = asdict(defaults(settings))
    for key, value in overrides.items():
        if key in EDITABLE:
            base[key] = tuple(value) if isinstance(value, list) else value
    return WorkspaceSettings(**base)


def is_admin(
    db: Database,
    workspace: Workspace,
    config: WorkspaceSettings,
    user_id: str,
    person: PersonInfo | None = None,
) -> bool:
    """Slack admins and owners (as Slack last told us), and the configured extra admins."""
    if user_id in config.admins:
        return True
    if person is not None:
        return person.is_admin
    with db.transaction() as session:
        return bool(
            session.scalar(
                select(Person.is_admin).where(
                    Person.team_id == workspace.team_id, Person.user_id == user_id
                )
            )
        )


@dataclass(frozen=True)
class Form:
    """What an admin submitted, as text, before validation."""

    digest_channel: str | None
    digest_day: str
    digest_time: str
    timezone: str
    daily_limit: str
    values_text: str
    checkin_audience: str
    checkin_channel: str | None
    checkin_day: str
    checkin_time: str
    admins: tuple[str, ...]


def validate(form: Form, current: WorkspaceSettings) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn a form into overrides, or errors keyed by the modal block at fault."""
    errors: dict[str, str] = {}
    if form.digest_day not in WEEKDAYS:
        errors["digest_day"] = "Choose a day of the week."
    for field in ("digest_time", "checkin_time"):
        if not _HHMM.fullmatch(getattr(form, field) or ""):
            errors[field] = "Use a 24-hour time like 16:00."
    if form.checkin_day not in WEEKDAYS:
        errors["checkin_day"] = "Choose a day of the week."
    try:
        ZoneInfo(form.timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = (
            f"{form.timezone.strip() or 'That'} is not a timezone I know. Use an IANA name "
            "like Europe/Paris or America/New_York."
        )
    try:
        limit = int(form.daily_limit.strip())
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        limit = 0
        errors["daily_limit"] = "Use a whole number from 1 to 100."
    values, retired, problem = edit_values(form.values_text, current)
    if problem:
        errors["values"] = problem
    if form.checkin_audience not in AUDIENCES:
        errors["checkin_audience"] = "Choose who gets check-ins."
    if form.checkin_audience == "channel" and not form.checkin_channel:
        errors["checkin_channel"] = "Choose the channel whose members get check-ins."
    if errors:
        return {}, errors
    return {
        "digest_channel": form.digest_channel,
        "digest_day": form.digest_day,
        "digest_time": _hhmm(form.digest_time),
        "timezone": form.timezone.strip(),
        "daily_limit": limit,
        "values": list(values),
        "retired_values": list(retired),
        "checkin_audience": form.checkin_audience,
        "checkin_channel": form.checkin_channel if form.checkin_audience == "channel" else None,
        "checkin_day": form.checkin_day,
        "checkin_time": _hhmm(form.checkin_time),
        "admins": list(form.admins),
    }, {}


def values_text(config: WorkspaceSettings) -> str:
    return "\n".join(config.values)


def edit_values(
    text: str, current: WorkspaceSettings
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """Company values from one-per-line text: a new line adds, a missing one retires, and
    `old => new` renames. Retired values stay on the appreciations that cited them."""
    active: list[str] = []
    renamed: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip().lower()
        if not line:
            continue
        old, arrow, new = line.partition("=>")
        name = (new if arrow else old).strip().lstrip("#")
        if arrow:
            renamed.add(old.strip().lstrip("#"))
        if not _VALUE.fullmatch(name):
            return (), (), f"#{name} can't be typed as a tag: use letters, digits, - and _."
        if name in active:
            return (), (), f"#{name} is listed twice."
        active.append(name)
    if len(active) > 100:
        return (), (), "Keep it to 100 values at most."
    retired = [v for v in (*current.values, *current.retired_values) if v not in active]
    retired += [v for v in renamed if v not in retired and v not in active]
    return tuple(active), tuple(dict.fromkeys(retired)), None


def _hhmm(text: str) -> str:
    match = _HHMM.fullmatch(text.strip())
    assert match
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def save(
    db: Database,
    workspace: Workspace,
    user_id: str,
    overrides: dict[str, Any],
    before: WorkspaceSettings,
    now: datetime,
) -> dict[str, Any]:
    """Store the overrides and record who changed what; returns the changes."""
    old = asdict(before)
    changes = {
        key: {"from": _plain(old.get(key)), "to": _plain(value)}
        for key, value in overrides.items()
        if _plain(old.get(key)) != _plain(value)
    }
    with db.transaction() as session:
        row = session.scalar(
            select(WorkspaceSetting).where(WorkspaceSetting.team_id == workspace.team_id)
        )
        if row is None:
            row = WorkspaceSetting(team_id=workspace.team_id, enterprise_id=workspace.enterprise_id)
            session.add(row)
        row.overrides = {k: _plain(v) for k, v in overrides.items()}
        row.updated_at = now
        row.updated_by = user_id
        if changes:
            session.add(
                SettingsChange(
                    team_id=workspace.team_id,
                    enterprise_id=workspace.enterprise_id,
                    user_id=user_id,
                    changed_at=now,
                    changes=changes,
                )
            )
    return changes


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
