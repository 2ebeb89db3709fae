"""Events API: the Home tab, people changing, and the app leaving a workspace."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient
from sqlalchemy.exc import IntegrityError

from bot.listeners.common import workspace_of
from bot.listeners.home import publish_home
from bot.runtime import Runtime
from bot.services import lifecycle
from bot.services.people import mark_used
from bot.slack import people
from bot.store.models import ProcessedEvent

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime, *, skip_repeated: bool = True) -> None:
    if skip_repeated:
        _skip_repeated_events(app, runtime)
    _register_events(app, runtime)


def _skip_repeated_events(app: App, runtime: Runtime) -> None:
    @app.middleware
    def skip_repeated_events(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack redelivers an event (same event_id) when it thinks we missed it: once only."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id is not None:
            team_id = body.get("team_id")
            if not isinstance(event_id, str) or len(event_id) > 64:
                log.warning("ignoring an event with a malformed event_id")
                return BoltResponse(status=200, body="")
            try:
                with runtime.db.transaction() as session:
                    session.add(
                        ProcessedEvent(
                            event_id=event_id,
                            team_id=team_id[:32] if isinstance(team_id, str) else None,
                            received_at=runtime.clock(),
                        )
                    )
            except IntegrityError:
                log.info("event %s already handled; ignoring the retry", event_id)
                return BoltResponse(status=200, body="")
        return next()


def _register_events(app: App, runtime: Runtime) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("tab") not in (None, "home"):
            return
        workspace = workspace_of(context)
        user_id = event["user"]
        found = people.lookup(client, user_id)
        if found is not None:
            now = runtime.clock()
            people.remember(runtime.db, workspace, [found], now)
            mark_used(runtime.db, workspace, [user_id], now)
        publish_home(runtime, client, workspace, user_id, found)

    @app.event("user_change")
    def user_changed(event: dict[str, Any], context: BoltContext) -> None:
        workspace = workspace_of(context)
        people.remember(
            runtime.db, workspace, [people.person_from_slack(event["user"])], runtime.clock()
        )

    @app.event("app_uninstalled")
    def uninstalled(context: BoltContext) -> None:
        workspace = workspace_of(context)
        runtime.forget_tokens(workspace)
        lifecycle.uninstalled(runtime.db, workspace, runtime.clock())

    @app.event("tokens_revoked")
    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        # Only the bot token matters: the app keeps no user tokens.
        if (event.get("tokens") or {}).get("bot"):
            workspace = workspace_of(context)
            runtime.forget_tokens(workspace)
            lifecycle.uninstalled(runtime.db, workspace, runtime.clock())
