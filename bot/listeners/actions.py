"""Buttons and pickers: opening the appreciation modal, answering check-ins."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.blocks import checkin as checkin_blocks
from bot.blocks import recap as recap_blocks
from bot.blocks.common import button, section
from bot.blocks.listening import LISTEN_OPEN
from bot.listeners.common import ask_said_in_private, lookup_with, workspace_of
from bot.listeners.home import publish_home
from bot.listeners.modals import open_appreciation_modal
from bot.runtime import Runtime
from bot.services import asks, checkins, recap
from bot.services.schedule import week_of
from bot.services.settings import for_workspace
from bot.text import truncate

log = logging.getLogger(__name__)

PARTICIPATION_REPLIES = {
    "pause": "Check-ins are paused for 4 weeks. Turn them back on from my Home tab any time.",
    "stop": "Check-ins are off. If you miss them, turn them back on from my Home tab.",
    "resume": "Check-ins are back on. See you at the start of the week.",
}


def register(app: App, runtime: Runtime) -> None:
    @app.action(blocks.OPEN_MODAL_ACTION)
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        open_appreciation_modal(
            client, runtime, workspace_of(context), trigger_id=body["trigger_id"]
        )

    @app.action(blocks.APPRECIATE_PERSON)
    def appreciate_person(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        user_id, ask_ids = blocks.person_from_value(action.get("value") or "")
        mine = [
            ask
            for ask in asks.some(runtime.db, workspace, ask_ids)
            if ask.asker_id == body["user"]["id"] and ask.helper_id == user_id
        ]
        thanked = mine[-1] if mine else None
        open_appreciation_modal(
            client,
            runtime,
            workspace,
            trigger_id=body["trigger_id"],
            recipients=[user_id] if user_id else [],
            ask_id=thanked.id if thanked else None,
            linked_text=(
                "For: " + "; ".join(truncate(ask.request, 80) for ask in mine) if mine else None
            ),
            said_in=(
                thanked.channel_id
                if thanked and ask_said_in_private(runtime, client, thanked)
                else None
            ),
        )

    @app.action(recap_blocks.THANK_THEM)
    def thank_who_carried_me(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        year, _, people = (action.get("value") or "").partition("|")
        chosen = [uid for uid in people.split(",") if uid][: recap.CARRIED_SHOWN]
        open_appreciation_modal(
            client,
            runtime,
            workspace_of(context),
            trigger_id=body["trigger_id"],
            recipients=chosen,
            reason=recap_blocks.draft_reason(recap.Recap(body["user"]["id"], int(year or 0))),
        )

    @app.action(checkin_blocks.GOAL_ACTION)
    def goal_chosen(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        user_id = body["user"]["id"]
        target = action.get("selected_user")
        week = checkin_blocks.week_from_block_id(action.get("block_id", ""))
        if not target or not week:
            return
        workspace = workspace_of(context)
        config = for_workspace(runtime.db, workspace, runtime.settings)
        lookup = lookup_with(runtime, client, workspace)
        me = lookup(user_id)
        zone = me.zone(config.timezone) if me else None
        current = week_of(runtime.clock(), zone) if zone else week
        if week != current:
            respond(
                f"That check-in was for {week}; this week's arrives on "
                f"{config.checkin_day.capitalize()}. You can set a goal there.",
                replace_original=False,
            )
            return
        if target == user_id:
            respond(
                "Pick someone other than yourself: whose support do you need?",
                replace_original=False,
            )
            return
        person = lookup(target)
        if person is None or person.is_bot or person.deleted:
            respond(
                "Pick a colleague: a person who is active in this workspace.",
                replace_original=False,
            )
            return
        _goal, before = checkins.set_goal(
            runtime.db, workspace, user_id, week, target, runtime.clock()
        )
        noted = checkin_blocks.goal_noted(target, before)
        respond(
            text=noted,
            blocks=[
                section(noted, accessory=button("Ask what they need", LISTEN_OPEN, target)),
            ],
            replace_original=False,
        )
        publish_home(runtime, client, workspace, user_id)

    @app.action(re.compile(f"^{checkin_blocks.OUTCOME_ACTION_PREFIX}(won|working|skipped)$"))
    def outcome_chosen(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        outcome = action["action_id"].removeprefix(checkin_blocks.OUTCOME_ACTION_PREFIX)
        workspace = workspace_of(context)
        user_id = body["user"]["id"]
        try:
            goal_id = int(action.get("value") or "")
        except ValueError:
            return
        goal = checkins.set_outcome(
            runtime.db, workspace, user_id, goal_id, outcome, runtime.clock()
        )
        if goal is None:
            log.warning("%s answered for goal %s, which is not theirs", user_id, goal_id)
            respond("That goal isn't yours to answer.", replace_original=False)
            return
        respond(checkin_blocks.outcome_noted(goal.target_user_id, outcome), replace_original=False)
        publish_home(runtime, client, workspace, user_id)

    @app.action(
        re.compile(
            f"^({checkin_blocks.PAUSE_ACTION}|{checkin_blocks.STOP_ACTION}|"
            f"{checkin_blocks.RESUME_ACTION})$"
        )
    )
    def participation_changed(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        choice = action["action_id"].removeprefix("checkin_")
        workspace = workspace_of(context)
        user_id = body["user"]["id"]
        lookup_with(runtime, client, workspace)(user_id)  # make sure the person is known
        checkins.set_participation(runtime.db, workspace, user_id, choice, runtime.clock())
        if body.get("response_url"):
            respond(PARTICIPATION_REPLIES[choice], replace_original=False)
        publish_home(runtime, client, workspace, user_id)
