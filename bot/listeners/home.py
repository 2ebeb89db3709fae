"""Publishing a person's Home tab."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.runtime import Runtime
from bot.services import appreciation, asks, checkins
from bot.services.schedule import week_of
from bot.services.settings import for_workspace
from bot.services.workspace import PersonInfo, Workspace
from bot.slack import people


def publish_home(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    user_id: str,
    person: PersonInfo | None = None,
) -> None:
    """Render and publish `user_id`'s Home tab (`person`: Slack's answer, if already asked)."""
    config = for_workspace(runtime.db, workspace, runtime.settings)
    person = person or people.lookup(client, user_id)
    zone = person.zone(config.timezone) if person else None
    now = runtime.clock()
    stats = appreciation.stats(runtime.db, workspace, user_id, now, zone.key if zone else "UTC")
    goals = checkins.history(runtime.db, workspace, user_id)
    me = checkins.participation(runtime.db, workspace, user_id)
    view = blocks.home_view(
        user_id,
        stats.received,
        stats.given,
        goals=goals,
        this_week=week_of(now, zone) if zone else None,
        open_asks=asks.open_for(runtime.db, workspace, user_id),
        checkins_off=bool(
            me
            and (
                me.checkins_stopped or (me.checkins_paused_until and me.checkins_paused_until > now)
            )
        ),
    )
    client.views_publish(user_id=user_id, view=view)
