"""Events API: the Home tab, people changing, and the app leaving a workspace."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.listeners.common import workspace_of
from bot.listeners.home import publish_home
from bot.runtime import Runtime
from bot.services import lifecycle
from bot.services.people import mark_used
from bot.slack import people

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    """Slack redelivers an event it thinks we missed; the pipeline stores each event_id once."""

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
