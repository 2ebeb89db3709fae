"""Slash commands: /appreciate (/ask lives with the rest of the ask loop in asks.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.errors import UserError
from bot.listeners.common import config_of, looked_up, lookup_with, workspace_of
from bot.listeners.modals import open_appreciation_modal
from bot.runtime import Runtime
from bot.services import appreciation


def register(app: App, runtime: Runtime) -> None:
    @app.command("/appreciate")
    def appreciate(
        ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
    ) -> None:
        ack()
        text = (command.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        word = word.lower()
        if not text:
            open_appreciation_modal(
                client,
                runtime,
                workspace_of(context),
                trigger_id=command["trigger_id"],
                channel_id=command.get("channel_id"),
                response_url=command.get("response_url"),
            )
        elif word == "help":
            respond(blocks.help_message(config_of(runtime, workspace_of(context)).values))
        elif word == "stats":
            show_stats(runtime, client, context, command, rest.strip(), respond)
        elif word == "top":
            show_top(runtime, client, context, command, rest.strip().lower(), respond)
        else:
            give_from_text(runtime, client, context, command, text, respond)


def give_from_text(
    runtime: Runtime,
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    text: str,
    respond: Respond,
) -> None:
    workspace = workspace_of(context)
    settings = config_of(runtime, workspace)
    parsed = appreciation.parse_command_text(text, settings.values)
    draft = appreciation.Draft(
        giver_id=command["user_id"],
        recipient_ids=parsed.recipient_ids,
        reason=parsed.reason,
        values=parsed.values,
        channel_id=command.get("channel_id"),
        response_url=command.get("response_url"),
        source_key=f"command:{command['trigger_id']}",
    )
    appreciation.check_draft(draft)  # a refused draft costs no lookups
    draft.said_in_private = runtime.conversations.of_command(client, workspace.team_id, command)
    summary = appreciation.give(
        runtime.db,
        workspace,
        draft,
        runtime.clock(),
        lookup=looked_up(runtime, client, workspace, [draft.giver_id, *draft.recipient_ids]),
        deliver=runtime.sender.deliver_claimed,
        daily_limit=settings.daily_limit,
        fallback_tz=settings.timezone,
    )
    respond(summary)


def show_stats(
    runtime: Runtime,
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    rest: str,
    respond: Respond,
) -> None:
    workspace = workspace_of(context)
    subject = command["user_id"]
    if rest:
        parsed = appreciation.parse_command_text(rest, ())
        subject = parsed.recipient_ids[0]
    asker = lookup_with(runtime, client, workspace)(command["user_id"])
    zone = asker.zone(runtime.settings.timezone).key if asker else runtime.settings.timezone
    result = appreciation.stats(
        runtime.db, workspace, subject, runtime.clock(), zone, viewer=command["user_id"]
    )
    respond(blocks.stats_message(subject, result.received, result.given))


def show_top(
    runtime: Runtime,
    client: WebClient,
    context: BoltContext,
    command: dict[str, Any],
    period: str,
    respond: Respond,
) -> None:
    period = period or "week"
    if period not in appreciation.PERIODS:
        raise UserError(
            "Try `/appreciate top week`, `/appreciate top month` or `/appreciate top all`."
        )
    workspace = workspace_of(context)
    asker = lookup_with(runtime, client, workspace)(command["user_id"])
    zone = asker.zone(runtime.settings.timezone).key if asker else runtime.settings.timezone
    standings = appreciation.top(runtime.db, workspace, period, runtime.clock(), zone)
    respond(blocks.top_message(period, standings))
