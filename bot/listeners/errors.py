"""One place where failures become words: user errors as is, the rest as an apology."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.errors import UserError
from bot.listeners.common import tell
from bot.runtime import Runtime

log = logging.getLogger(__name__)

APOLOGY = (
    "Sorry, something went wrong on my side and nothing was recorded. Please try again in a minute."
)


def register(app: App, runtime: Runtime) -> None:
    @app.error
    def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        if isinstance(error, UserError):
            text = error.message
        else:
            log.exception(
                "failed handling %s from %s",
                body.get("command") or body.get("type"),
                (body.get("user") or {}).get("id") or body.get("user_id"),
                exc_info=error,
            )
            text = APOLOGY
        reply_to_person(client, body, text)


def reply_to_person(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Answer whoever sent `body`, where they are; never raises."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if not user:
        return
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    response_url = body.get("response_url")
    try:
        tell(client, text, user_id=user, channel_id=channel, response_url=response_url)
    except Exception:
        log.exception("could not tell %s about a failure", user)
