"""Helpers every listener shares: whose workspace this is, and telling a person something."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.domain import PersonInfo, Workspace
from bot.replies import once
from bot.runtime import Runtime
from bot.services.settings import WorkspaceSettings, for_workspace
from bot.slack import people
from bot.store.models import Ask

log = logging.getLogger(__name__)


def workspace_of(context: BoltContext) -> Workspace:
    team_id = context.team_id or context.get("user_team_id") or context.enterprise_id or ""
    return Workspace(team_id=team_id, enterprise_id=context.enterprise_id)


def lookup_with(
    runtime: Runtime, client: WebClient, workspace: Workspace
) -> Callable[[str], PersonInfo | None]:
    """A `users.info` lookup that also remembers what it learned (timezones, leavers)."""

    def lookup(user_id: str) -> PersonInfo | None:
        found = people.lookup(client, user_id)
        if found is not None:
            people.remember(runtime.db, workspace, [found], runtime.clock())
        return found

    return lookup


def looked_up(
    runtime: Runtime, client: WebClient, workspace: Workspace, user_ids: list[str]
) -> Callable[[str], PersonInfo | None]:
    """Look these people up now (`users.info`) and remember them in one transaction; the
    answer is a lookup over them (None for anyone else or anyone Slack doesn't know)."""
    found = people.lookup_all(client, runtime.db, workspace, user_ids, runtime.clock())
    return found.get


def tell(
    client: WebClient,
    text: str,
    *,
    user_id: str,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """Say something only `user_id` sees: ephemeral where possible, else in a DM; once,
    however often the request runs (bot/replies.py)."""
    once(lambda: _tell(client, text, user_id, channel_id, response_url))


def _tell(
    client: WebClient,
    text: str,
    user_id: str,
    channel_id: str | None,
    response_url: str | None,
) -> None:
    if response_url:
        response = WebhookClient(response_url, timeout=10).send(
            text=text, response_type="ephemeral", replace_original=False
        )
        if response.status_code == 200:
            return
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except Exception:
            log.info("ephemeral to %s in %s failed; sending a DM", user_id, channel_id)
    client.chat_postMessage(channel=user_id, text=text)


def ask_said_in_private(runtime: Runtime, client: WebClient, ask: Ask) -> bool:
    """Whether an ask was made in a private channel; Slack is asked about asks from before
    that was recorded."""
    if ask.said_in_private is not None:
        return ask.said_in_private
    return runtime.conversations.private(client, ask.team_id, ask.channel_id)


def metadata_of(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def config_of(runtime: Runtime, workspace: Workspace) -> WorkspaceSettings:
    """The workspace's settings as they are now (admins may have changed them)."""
    return for_workspace(runtime.db, workspace, runtime.settings)
