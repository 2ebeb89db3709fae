"""One Settings object, read once from the environment (and `.env`) in the entry point."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///advocate.db"
README_HINT = "see README.md, section Configuration"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3000
    log_level: str = "INFO"
    # Prometheus /metrics on a listener of its own; None: off.
    metrics_port: int | None = None
    log_format: str = "text"  # text | json (one object per line)
    digest_channel: str | None = None
    digest_day: str = "fri"
    digest_time: str = "16:00"
    timezone: str = "UTC"
    checkin_day: str = "mon"
    checkin_time: str = "09:30"
    daily_limit: int = 10
    values: tuple[str, ...] = ()
    # Emoji whose reaction on a message appreciates its author; empty: off.
    reactions: tuple[str, ...] = ("raised_hands",)
    # (month, day) from which each person's year-end recap comes with their check-in.
    recap_date: tuple[int, int] | None = (12, 10)
    admins: tuple[str, ...] = ()
    retention_days: int = 30
    message_retention_days: int = 30
    encryption_key: str | None = field(default=None, repr=False)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def oauth_mode(self) -> bool:
        """Installations from the OAuth flow. With SLACK_BOT_TOKEN set as well, the app stays
        in token mode and the client id and secret serve sign-in only."""
        return self.signin_enabled and not self.slack_bot_token

    @property
    def signin_enabled(self) -> bool:
        """Sign in with Slack, for the web pages (bot/signin.py)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_origin(self) -> str:
        """Slack's origin (`https://slack.com`, GovSlack's, a test server's), from
        SLACK_API_URL: where sign-in sends people and finds its keys."""
        parts = urlsplit(self.slack_api_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def uses_default_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Build Settings from `.env` overlaid by the real environment (which wins)."""
        merged: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        return cls.from_mapping(merged)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not api_url.endswith("/"):
            api_url += "/"
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_client_id=get("SLACK_CLIENT_ID"),
            slack_client_secret=get("SLACK_CLIENT_SECRET"),
            slack_api_url=api_url,
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            port=_int(get("PORT"), "PORT", 3000, 1, 65535),
            log_level=(get("LOG_LEVEL") or "INFO").upper(),
            metrics_port=_optional_port(get("METRICS_PORT"), "METRICS_PORT"),
            log_format=_choice(get("LOG_FORMAT"), "LOG_FORMAT", ("text", "json")),
            digest_channel=get("ADVOCATE_DIGEST_CHANNEL"),
            digest_day=_weekday(get("ADVOCATE_DIGEST_DAY"), "ADVOCATE_DIGEST_DAY", "fri"),
            digest_time=_hhmm(get("ADVOCATE_DIGEST_TIME"), "ADVOCATE_DIGEST_TIME", "16:00"),
            timezone=_timezone(get("ADVOCATE_TIMEZONE"), "ADVOCATE_TIMEZONE", "UTC"),
            checkin_day=_weekday(get("ADVOCATE_CHECKIN_DAY"), "ADVOCATE_CHECKIN_DAY", "mon"),
            checkin_time=_hhmm(get("ADVOCATE_CHECKIN_TIME"), "ADVOCATE_CHECKIN_TIME", "09:30"),
            daily_limit=_int(get("ADVOCATE_DAILY_LIMIT"), "ADVOCATE_DAILY_LIMIT", 10, 1, 100),
            values=_values(get("ADVOCATE_VALUES")),
            reactions=_reactions(env.get("ADVOCATE_REACTIONS")),
            recap_date=_recap_date(env.get("ADVOCATE_RECAP_DATE")),
            admins=_csv(get("ADVOCATE_ADMINS")),
            retention_days=_int(get("ADVOCATE_RETENTION_DAYS"), "ADVOCATE_RETENTION_DAYS", 30, 0),
            message_retention_days=_int(
                get("ADVOCATE_MESSAGE_RETENTION_DAYS"), "ADVOCATE_MESSAGE_RETENTION_DAYS", 30, 0
            ),
            encryption_key=get("ADVOCATE_ENCRYPTION_KEY"),
        )

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of `names` (attribute names) that is unset."""
        for name in names:
            if not getattr(self, name):
                raise ConfigError(f"{name.upper()} is not set ({README_HINT}).")


def _int(raw: str | None, name: str, default: int, low: int, high: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bound}, got {value}.")
    return value


def _optional_port(raw: str | None, name: str) -> int | None:
    return None if raw is None else _int(raw, name, 0, 1, 65535)


def _choice(raw: str | None, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive); unset: the first."""
    value = (raw or choices[0]).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be {' or '.join(choices)}, got {raw!r}.")
    return value


_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(raw: str | None, name: str, default: str) -> str:
    value = (raw or default).lower()
    if value in _WEEKDAY_NAMES:
        value = value[:3]
    if value not in WEEKDAYS:
        raise ConfigError(f"{name} must be one of {', '.join(WEEKDAYS)}, got {raw!r}.")
    return value


def _hhmm(raw: str | None, name: str, default: str) -> str:
    value = raw or default
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise ConfigError(f"{name} must be a time as HH:MM (24-hour), got {raw!r}.")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _timezone(raw: str | None, name: str, default: str) -> str:
    value = raw or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA timezone like Europe/Paris, got {raw!r}."
        ) from None
    return value


def _recap_date(raw: str | None) -> tuple[int, int] | None:
    """`MM-DD`; unset: 12-10; empty: no recaps."""
    if raw is None:
        return (12, 10)
    if not raw.strip():
        return None
    month, _, day = raw.strip().partition("-")
    try:
        if len(month) != 2 or len(day) != 2:
            raise ValueError(raw)
        date(2024, int(month), int(day))  # a leap year: 02-29 is a date too
        return int(month), int(day)
    except ValueError:
        raise ConfigError(
            f"ADVOCATE_RECAP_DATE must be a month and day as MM-DD, like 12-10, got {raw!r}."
        ) from None


def _reactions(raw: str | None) -> tuple[str, ...]:
    """Emoji names, with or without colons; unset: raised_hands; empty: none."""
    if raw is None:
        return ("raised_hands",)
    names = tuple(dict.fromkeys(n.strip().strip(":").lower() for n in raw.split(",")))
    names = tuple(n for n in names if n)
    for name in names:
        if not re.fullmatch(r"[a-z0-9_+'-]+", name):
            raise ConfigError(
                f"ADVOCATE_REACTIONS holds emoji names such as raised_hands, got {name!r}."
            )
    return names


def _values(raw: str | None) -> tuple[str, ...]:
    values = _csv(raw, lower=True)
    for value in values:
        # A value must be typeable as `#value` in /appreciate.
        if not re.fullmatch(r"[a-z][\w-]*", value):
            raise ConfigError(
                f"ADVOCATE_VALUES: {value!r} can't be typed as #{value}; use letters, digits, "
                "- and _ (for example customer-first)."
            )
    return values


def _csv(raw: str | None, lower: bool = False) -> tuple[str, ...]:
    if not raw:
        return ()
    items = [item.strip().lstrip("#") for item in raw.split(",")]
    return tuple(dict.fromkeys(i.lower() if lower else i for i in items if i))
