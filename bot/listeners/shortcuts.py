"""Shortcuts: "Appreciate someone" (global) and "Appreciate this" ("Ask for a commitment" is in
asks.py)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.listeners.common import workspace_of
from bot.listeners.modals import open_appreciation_modal
from bot.runtime import Runtime
from bot.text import truncate

log = logging.getLogger(__name__)

APPRECIATE_SOMEONE = "appreciate_someone"
APPRECIATE_MESSAGE = "appreciate_message"


def register(app: App, runtime: Runtime) -> None:
    @app.shortcut(APPRECIATE_SOMEONE)
    def appreciate_someone(
        ack: Ack, shortcut: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        open_appreciation_modal(
            client, runtime, workspace_of(context), trigger_id=shortcut["trigger_id"]
        )

    @app.shortcut(APPRECIATE_MESSAGE)
    def appreciate_message(
        ack: Ack, shortcut: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        workspace = workspace_of(context)
        channel_id = shortcut["channel"]["id"]
        message = shortcut.get("message") or {}
        ts = shortcut.get("message_ts") or message.get("ts")
        author = message.get("user")
        recipients = [author] if author and author != shortcut["user"]["id"] else []
        private = runtime.conversations.private(
            client, workspace.team_id, channel_id, name=shortcut["channel"].get("name")
        )
        open_appreciation_modal(
            client,
            runtime,
            workspace,
            trigger_id=shortcut["trigger_id"],
            channel_id=channel_id,
            response_url=shortcut.get("response_url"),
            recipients=recipients,
            message_ts=ts,
            permalink=_permalink(client, channel_id, ts),
            linked_text=(
                f"For this message: {truncate(text, 200)}"
                if (text := message.get("text") or "")
                else None
            ),
            said_in=channel_id if private else None,
        )


def _permalink(client: WebClient, channel_id: str, ts: str | None) -> str | None:
    if not ts:
        return None
    try:
        return str(client.chat_getPermalink(channel=channel_id, message_ts=ts)["permalink"])
    except SlackApiError as error:
        # A private channel without the app: the appreciation still works, unlinked.
        log.info("no permalink for %s/%s: %s", channel_id, ts, error.response.get("error"))
        return None
