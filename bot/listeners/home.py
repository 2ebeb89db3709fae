"""Publishing a person's Home tab."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.blocks.home import HomeData, home_view
from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, asks, checkins, digest, relationships
from bot.services.schedule import week_of
from bot.services.settings import for_workspace, is_admin
from bot.slack import people

ADVOCATES_SHOWN = 5


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
    zone_name = zone.key if zone else config.timezone
    now = runtime.clock()
    stats = appreciation.stats(runtime.db, workspace, user_id, now, zone_name, viewer=user_id)
    me = checkins.participation(runtime.db, workspace, user_id)
    paused = me.checkins_paused_until if me and me.checkins_paused_until else None
    month_start = appreciation.period_start("month", now, config.timezone)
    assert month_start is not None
    data = HomeData(
        user_id=user_id,
        received=stats.received,
        given=stats.given,
        recent=stats.recent,
        open_asks=asks.open_for(runtime.db, workspace, user_id),
        goals=checkins.history(runtime.db, workspace, user_id),
        this_week=week_of(now, zone) if zone else None,
        checkin_day=(me.checkin_day if me and me.checkin_day else config.checkin_day),
        checkin_time=(me.checkin_time if me and me.checkin_time else config.checkin_time),
        checkins_stopped=bool(me and me.checkins_stopped),
        paused_until=(
            f"{paused.astimezone(zone):%A %-d %B}" if paused and paused > now and zone else None
        ),
        advocates=digest.advocates_since(runtime.db, workspace, month_start, ADVOCATES_SHOWN),
        people=relationships.your_people(runtime.db, workspace, user_id, now),
        now=now,
        admin_settings=config if is_admin(runtime.db, workspace, config, user_id, person) else None,
    )
    client.views_publish(user_id=user_id, view=home_view(data))
