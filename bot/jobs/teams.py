"""Reading the workspace's teams (user groups) from Slack, twice a day, for the insights
page's collaboration map."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import Workspace
from bot.jobs.checkins import REFRESH_EVERY
from bot.runtime import Runtime
from bot.services import teams

log = logging.getLogger(__name__)


def refresh_teams(runtime: Runtime, client: WebClient, workspace: Workspace, now: datetime) -> None:
    """Re-read the user groups and their members when the last read is older than
    REFRESH_EVERY. Without the `usergroups:read` scope (an install from before it was asked
    for), or on a plan without user groups, the workspace has no teams and the map shows
    people instead."""
    last = teams.refreshed_at(runtime.db, workspace)
    if last is not None and now - last < REFRESH_EVERY:
        return
    try:
        found = read_teams(client, workspace)
    except SlackApiError as error:
        reason = error.response.get("error") if error.response is not None else None
        if reason not in ("missing_scope", "not_allowed_token_type", "paid_only"):
            raise
        log.info("no teams for %s: usergroups.list said %s", workspace.team_id, reason)
        found = []
    teams.replace(runtime.db, workspace, found, now)


def read_teams(client: WebClient, workspace: Workspace) -> list[teams.TeamInfo]:
    """The workspace's enabled user groups with their members; Slack's own (admins, owners)
    are no team."""
    answer = client.usergroups_list(
        include_users=True, include_disabled=False, team_id=workspace.team_id
    )
    groups: list[dict[str, Any]] = answer.get("usergroups", [])
    return [
        teams.TeamInfo(
            group["id"], group.get("handle", ""), group.get("name", ""), group.get("users", [])
        )
        for group in groups
        if not group.get("auto_type") and not group.get("date_delete")
    ]
