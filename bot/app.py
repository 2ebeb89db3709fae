"""build_app: the Bolt app with every listener registered; nothing else happens here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext

from bot import listeners
from bot.logs import install_redaction
from bot.runtime import Runtime
from bot.slack.client import make_client

log = logging.getLogger(__name__)

LISTENER_THREADS = 64


def build_app(runtime: Runtime, *, socket_mode: bool = False, verify_token: bool = False) -> App:
    """The Bolt app. Listeners ack first and do their work after the ack.

    Every HTTP request's signature is verified; only Socket Mode, whose connection is itself
    authenticated, skips it.
    """
    install_redaction()
    settings = runtime.settings
    oauth = None
    if settings.oauth_mode:
        from bot.slack.oauth import OAuthClients, oauth_settings

        assert isinstance(runtime.clients, OAuthClients)
        oauth = oauth_settings(settings, runtime.db, runtime.clients.store, runtime.clock)
    app = App(
        client=make_client(None if oauth else settings.slack_bot_token, settings),
        oauth_settings=oauth,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        token_verification_enabled=verify_token,
        process_before_response=False,
        # Listeners ack, then do their work in the same thread; with too few threads, slow
        # work after the ack would keep new requests from being acknowledged at all.
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="listener"
        ),
        raise_error_for_unhandled_request=False,
    )
    if oauth is not None:
        remember_workspaces(app, runtime)
    listeners.register(app, runtime)
    return app


def remember_workspaces(app: App, runtime: Runtime) -> None:
    """An org-wide install serves workspaces the app first meets in their requests."""
    from bot.services import workspaces
    from bot.services.workspace import Workspace

    known: set[str] = set()

    @app.middleware
    def remember_workspace(context: BoltContext, next: Callable[[], None]) -> None:
        team_id = context.team_id
        if team_id and team_id not in known:
            workspaces.ensure(
                runtime.db, Workspace(team_id, context.enterprise_id), "", runtime.clock()
            )
            known.add(team_id)
        next()
