"""build_app: the Bolt app with every listener registered; nothing else happens here."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot import listeners
from bot.runtime import Runtime
from bot.slack.client import make_client

log = logging.getLogger(__name__)


def build_app(runtime: Runtime, *, socket_mode: bool = False, verify_token: bool = False) -> App:
    """The Bolt app. Listeners ack first and do their work after the ack.

    Every HTTP request's signature is verified; only Socket Mode, whose connection is itself
    authenticated, skips it.
    """
    settings = runtime.settings
    app = App(
        client=make_client(settings.slack_bot_token, settings),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        token_verification_enabled=verify_token,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    listeners.register(app, runtime)
    return app
