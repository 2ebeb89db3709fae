"""`advocate check`: one clear line per thing that must be right."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.slack import scopes
from bot.slack.client import make_client
from bot.store import migrate
from bot.store.db import Database


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # Worth the operator's attention, though nothing is broken.
    warn: bool = False

    def __str__(self) -> str:
        status = "FAIL" if not self.ok else "warn" if self.warn else "ok  "
        return f"{status}  {self.name}: {self.detail}"


def run_checks(settings: Settings) -> list[Check]:
    results = [_config(settings)]
    results += _slack(settings)
    if _not_created_yet(settings.database_url):
        # Connecting would create an empty file; `advocate run` makes it with its schema.
        detail = "does not exist yet; the first `advocate run` creates it with its schema"
        results.append(Check("database", True, f"{settings.database_url} {detail}"))
        return results
    database = _database(settings)
    results.append(database)
    if database.ok and settings.slack_bot_token and not settings.oauth_mode:
        results.append(_workspaces(settings))
    return results


def _workspaces(settings: Settings) -> Check:
    """Token mode serves the token's workspace only; say what else the database holds."""
    from bot.runtime import Runtime
    from bot.services import workspaces

    runtime = Runtime.create(settings)
    try:
        owner = runtime.clients.token_owner()
        assert owner is not None
        others = workspaces.not_served(runtime.db, owner)
    except Exception as error:
        return Check("workspaces", False, f"cannot tell which workspace the token serves: {error}")
    finally:
        runtime.db.dispose()
    if not others:
        return Check("workspaces", True, f"serves {owner}, the only workspace in the database")
    listed = "; ".join(
        f"{name} ({team}): `advocate export --team {team}` keeps a copy, "
        f"`advocate forget --team {team} --all` removes it"
        for team, name in others
    )
    return Check(
        "workspaces",
        True,
        f"serves {owner}; also in the database, never shown or sent with this token: {listed}",
        warn=True,
    )


def _config(settings: Settings) -> Check:
    mode = "Socket Mode" if settings.socket_mode else "HTTP"
    missing = []
    if not settings.slack_bot_token and not settings.oauth_mode:
        missing.append("SLACK_BOT_TOKEN")
    if not settings.socket_mode and not settings.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        return Check("config", False, f"{mode} mode needs {', '.join(missing)} (see README.md)")
    return Check("config", True, f"{mode} mode, Web API at {settings.slack_api_url}")


def _slack(settings: Settings) -> list[Check]:
    if settings.oauth_mode and not settings.slack_bot_token:
        return [_installations(settings)]
    if not settings.slack_bot_token:
        return [Check("token", False, "SLACK_BOT_TOKEN is not set")]
    try:
        response = make_client(settings.slack_bot_token, settings).auth_test()
    except SlackApiError as error:
        return [Check("token", False, f"auth.test refused it: {error.response.get('error')}")]
    except (SlackClientError, OSError) as error:
        return [Check("token", False, f"could not reach {settings.slack_api_url}: {error}")]
    token = Check(
        "token", True, f"valid for team {response.get('team')} ({response.get('team_id')})"
    )
    header = next((v for k, v in response.headers.items() if k.lower() == "x-oauth-scopes"), "")
    header = header[0] if isinstance(header, list) else header
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    lacking = scopes.missing(granted)
    if lacking:
        detail = f"missing {', '.join(lacking)}; reinstall the app from manifest.json"
        return [token, Check("scopes", False, detail)]
    return [token, Check("scopes", True, f"all {len(scopes.BOT_SCOPES)} needed scopes granted")]


def _database(settings: Settings) -> Check:
    db = Database(settings.database_url)
    try:
        db.ping()
        behind = migrate.pending(db.engine)
    except Exception as error:
        return Check("database", False, f"{_redact(settings.database_url)}: {error}".strip())
    finally:
        db.dispose()
    if behind:
        return Check("database", False, "schema is out of date: run `advocate migrate`")
    return Check("database", True, f"{_redact(settings.database_url)} answers, schema up to date")


def _not_created_yet(url: str) -> bool:
    """An SQLite database whose file is not there yet (SQLite would create it on connect)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return False
    path = parsed.database or ""
    return path not in ("", ":memory:") and not Path(path).exists()


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _installations(settings: Settings) -> Check:
    from sqlalchemy import func, select

    from bot.store.models import slack_bots

    if _not_created_yet(settings.database_url):
        return Check("installations", True, "OAuth mode, none stored yet (no database yet)")
    db = Database(settings.database_url)
    try:
        with db.engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(slack_bots)).scalar_one()
    except Exception as error:
        return Check("installations", False, f"cannot read them: {error}")
    finally:
        db.dispose()
    return Check("installations", True, f"OAuth mode, {count} workspace installation(s) stored")
