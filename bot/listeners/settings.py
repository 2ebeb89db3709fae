"""Workspace settings (admins) and each person's own check-in schedule, from the Home tab.

Every admin action and submission is authorised here, on the server: a crafted request
from someone who is not an admin changes nothing and is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.home import SCHEDULE_ACTION, SETTINGS_ACTION
from bot.blocks.settings import SCHEDULE_MODAL, SETTINGS_MODAL, schedule_modal, settings_modal
from bot.jobs.digest import reachable
from bot.listeners.common import lookup_with, tell, workspace_of
from bot.listeners.forms import Form, Refused, Submission
from bot.listeners.home import publish_home
from bot.runtime import Runtime
from bot.services import checkins
from bot.services import settings as workspace_settings

log = logging.getLogger(__name__)

NOT_ADMIN = "Only workspace admins can change Advocate's settings."
# Checking a channel happens before the modal is answered, inside Slack's 3 seconds.
CHANNEL_CHECK_TIMEOUT = 2


def register(app: App, runtime: Runtime) -> None:
    @app.action(SETTINGS_ACTION)
    def open_settings(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        workspace = workspace_of(context)
        user_id = body["user"]["id"]
        person = lookup_with(runtime, client, workspace)(user_id)
        config = workspace_settings.for_workspace(runtime.db, workspace, runtime.settings)
        if not workspace_settings.is_admin(runtime.db, workspace, config, user_id, person):
            log.warning(
                "%s in %s tried to open the settings without being an admin",
                user_id,
                workspace.team_id,
            )
            tell(client, NOT_ADMIN, user_id=user_id)
            return
        client.views_open(trigger_id=body["trigger_id"], view=settings_modal(config))

    @app.action(SCHEDULE_ACTION)
    def open_schedule(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        ack()
        workspace = workspace_of(context)
        config = workspace_settings.for_workspace(runtime.db, workspace, runtime.settings)
        me = checkins.participation(runtime.db, workspace, body["user"]["id"])
        day = me.checkin_day if me and me.checkin_day else config.checkin_day
        time = me.checkin_time if me and me.checkin_time else config.checkin_time
        client.views_open(trigger_id=body["trigger_id"], view=schedule_modal(day, time))


def forms(runtime: Runtime) -> list[Form]:
    """The settings forms: each checked before its modal closes, applied once after."""

    def check_settings(form: Submission) -> dict[str, Any]:
        workspace = form.workspace
        config = workspace_settings.for_workspace(runtime.db, workspace, runtime.settings)
        if not workspace_settings.is_admin(runtime.db, workspace, config, form.user_id):
            log.warning(
                "settings submission from non-admin %s in %s refused",
                form.user_id,
                workspace.team_id,
            )
            raise Refused({"digest_channel": NOT_ADMIN})
        fields = form_from(form.view)
        overrides, errors = workspace_settings.validate(fields, config)
        errors.update(channel_errors(form.client, fields, errors))
        if errors:
            raise Refused(errors)
        return overrides

    def apply_settings(form: Submission, overrides: dict[str, Any]) -> None:
        workspace = form.workspace
        config = workspace_settings.for_workspace(runtime.db, workspace, runtime.settings)
        changes = workspace_settings.save(
            runtime.db, workspace, form.user_id, overrides, config, runtime.clock()
        )
        log.info("%s changed settings of %s: %s", form.user_id, workspace.team_id, sorted(changes))
        publish_home(runtime, form.client, workspace, form.user_id)

    def check_schedule(form: Submission) -> dict[str, Any]:
        day = str((form.value("day", "selected_option") or {}).get("value") or "")
        time = str(form.value("time", "selected_time") or "")
        try:
            checkins.check_schedule(day, time)
        except ValueError as error:
            raise Refused({"day" if "day" in str(error) else "time": str(error)}) from None
        return {"day": day, "time": time}

    def apply_schedule(form: Submission, accepted: dict[str, Any]) -> None:
        workspace = form.workspace
        lookup_with(runtime, form.client, workspace)(form.user_id)
        checkins.set_schedule(
            runtime.db, workspace, form.user_id, accepted["day"], accepted["time"]
        )
        publish_home(runtime, form.client, workspace, form.user_id)

    return [
        Form(SETTINGS_MODAL, check_settings, apply_settings),
        Form(SCHEDULE_MODAL, check_schedule, apply_schedule),
    ]


def form_from(view: dict[str, Any]) -> workspace_settings.Form:
    state = view["state"]["values"]

    def element(block: str) -> dict[str, Any]:
        return (state.get(block) or {}).get("value") or {}

    def option(block: str) -> str:
        return str((element(block).get("selected_option") or {}).get("value") or "")

    return workspace_settings.Form(
        digest_channel=element("digest_channel").get("selected_conversation"),
        digest_day=option("digest_day"),
        digest_time=element("digest_time").get("selected_time") or "",
        timezone=element("timezone").get("value") or "",
        daily_limit=element("daily_limit").get("value") or "",
        values_text=element("values").get("value") or "",
        checkin_audience=option("checkin_audience"),
        checkin_channel=element("checkin_channel").get("selected_conversation"),
        checkin_day=option("checkin_day"),
        checkin_time=element("checkin_time").get("selected_time") or "",
        admins=tuple(element("admins").get("selected_users") or ()),
    )


def channel_errors(
    client: WebClient, form: workspace_settings.Form, errors: dict[str, str]
) -> dict[str, str]:
    """The channels the app must post in (or read), checked against Slack."""
    found: dict[str, str] = {}
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=CHANNEL_CHECK_TIMEOUT)
    for field, channel in (
        ("digest_channel", form.digest_channel),
        ("checkin_channel", form.checkin_channel),
    ):
        if not channel or field in errors:
            continue
        try:
            problem = reachable(quick, channel)
        except (SlackApiError, SlackClientError, OSError) as error:
            # Slack did not answer in time: accept it; the digest job reports problems.
            log.warning("could not check channel %s: %s", channel, error)
            continue
        if problem:
            found[field] = problem[:1000]
    return found
