"""The two Bolt apps of the request pipeline (bot/pipeline.py), with their listeners;
nothing else happens here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot import listeners
from bot.logs import install_redaction
from bot.pipeline import Pipeline, Workers
from bot.runtime import Runtime
from bot.slack.client import make_client

log = logging.getLogger(__name__)

FOREIGN_WORKSPACE = "This Advocate serves another Slack workspace; ask your Slack admin about it."


def build_pipeline(
    runtime: Runtime, *, socket_mode: bool = False, verify_token: bool = False
) -> Pipeline:
    """The request's side of the pipeline (bot/pipeline.py): persist and acknowledge."""
    answers = build_app(
        runtime,
        listeners.register_answers,
        socket_mode=socket_mode,
        verify_token=verify_token,
    )
    return Pipeline(runtime.db, answers)


def build_workers(runtime: Runtime, **options: Any) -> Workers:
    """The workers' side: claim stored requests and run their listeners."""
    app = build_app(runtime, listeners.register, verify_requests=False)
    return Workers(runtime, app, **options)


def build_app(
    runtime: Runtime,
    register: Callable[[App, Runtime], None],
    *,
    socket_mode: bool = False,
    verify_token: bool = False,
    verify_requests: bool = True,
) -> App:
    """A Bolt app with the listeners `register` gives it: those that answer on the
    request's thread (form checks), or those that work stored requests.

    Every HTTP request's signature is verified; only Socket Mode, whose connection is itself
    authenticated, skips it, and the workers, which run requests verified when they came.
    """
    install_redaction()
    settings = runtime.settings
    oauth = None
    if settings.oauth_mode:
        from bot.slack.oauth import OAuthClients, oauth_settings

        assert isinstance(runtime.clients, OAuthClients)
        oauth = oauth_settings(settings, runtime.db, runtime.clients.store, runtime.clock)
    app = App(
        # The name Bolt would otherwise find with inspect.stack(), which reads the source of
        # every frame of the call stack: tens of milliseconds for each app built.
        name="app.py",
        client=make_client(None if oauth else settings.slack_bot_token, settings),
        oauth_settings=oauth,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=verify_requests and not socket_mode,
        token_verification_enabled=verify_token,
        # Bolt runs each listener on the thread that dispatches the request (the request's
        # own, or a worker's) instead of a thread pool of its own.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    if oauth is not None:
        remember_workspaces(app, runtime)
    else:
        serve_own_workspace(app, runtime)
    register(app, runtime)
    return app


def serve_own_workspace(app: App, runtime: Runtime) -> None:
    """Token mode: a request from any workspace but the token's is refused before any
    listener reads a row for it (OAuth mode finds each request's token by its workspace)."""
    from bot.listeners.common import workspace_of

    @app.middleware
    def own_workspace_only(
        context: BoltContext, body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        workspace = workspace_of(context)
        if not workspace.team_id or runtime.clients.serves(workspace):
            return next()
        log.error(
            "refused a request from workspace %s: SLACK_BOT_TOKEN serves %s",
            workspace.team_id,
            runtime.clients.token_owner(),
        )
        if "command" in body:
            return BoltResponse(status=200, body=FOREIGN_WORKSPACE)
        return BoltResponse(status=200, body="")


def remember_workspaces(app: App, runtime: Runtime) -> None:
    """An org-wide install serves workspaces the app first meets in their requests."""
    from bot.domain import Workspace
    from bot.services import workspaces

    known: set[str] = set()

    @app.middleware
    def remember_workspace(context: BoltContext, next: Callable[[], None]) -> None:
        team_id = context.team_id
        if team_id and team_id not in known:
            workspace = Workspace(team_id, context.enterprise_id)
            workspaces.ensure(runtime.db, workspace, "", runtime.clock(), reinstalled=False)
            known.add(team_id)
        next()
