"""build_app: the Bolt app with every listener registered; nothing else happens here."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext

from bot import listeners
from bot.listeners.work import Work
from bot.logs import install_redaction
from bot.runtime import Runtime
from bot.slack.client import make_client

log = logging.getLogger(__name__)


def build_app(
    runtime: Runtime,
    *,
    socket_mode: bool = False,
    verify_token: bool = False,
    verify_requests: bool = True,
    work: Work | None = None,
) -> App:
    """The Bolt app. Slack is answered first; the work after the answer runs on `work`
    (see bot/listeners/work.py), which the caller drains when it stops.

    Every HTTP request's signature is verified; only Socket Mode, whose connection is itself
    authenticated, skips it, and the worker process, which gets requests the server verified.
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
        request_verification_enabled=verify_requests and not socket_mode,
        token_verification_enabled=verify_token,
        # Bolt runs each listener on the request thread and answers with what it returns;
        # ours answer at once and hand their work to `work` (Bolt would otherwise poll for
        # the ack every 10 ms from a thread pool of its own).
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    if oauth is not None:
        remember_workspaces(app, runtime)
    listeners.register(app, runtime, work or Work())
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
