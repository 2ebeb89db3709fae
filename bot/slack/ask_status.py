"""Keeping an ask's status line current on its Slack message (`chat.update`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import asks as render
from bot.store.models import Ask

log = logging.getLogger(__name__)


def refresh(client: WebClient, ask: Ask) -> None:
    """Redraw the ask's status message; a failure is logged, the next change redraws it."""
    if not ask.status_ts:
        return
    body = render.status_reply(ask) if ask.from_message else render.ask_message(ask)
    try:
        client.chat_update(
            channel=ask.channel_id, ts=ask.status_ts, text=body["text"], blocks=body["blocks"]
        )
    except SlackApiError as error:
        log.warning("could not update ask %s: %s", ask.id, error.response.get("error"))


def channel_problem(client: WebClient, channel_id: str, info: dict[str, Any] | None) -> str | None:
    """Why the app cannot run an ask's thread in `channel_id`, or None (joining if public).
    `info` is Slack's `conversations.info` answer, None when it cannot see the channel."""
    how = "Add me with `/invite @Advocate`, then ask again."
    if info is None:
        return f"I can't post in this conversation. {how}"
    if info.get("is_archived"):
        return "This channel is archived; ask in another one."
    if info.get("is_im") or info.get("is_mpim"):
        return "Asks live in channel threads. Ask in a channel where you both are."
    if not info.get("is_member"):
        if info.get("is_private"):
            return f"I'm not in this private channel. {how}"
        client.conversations_join(channel=channel_id)
    return None
