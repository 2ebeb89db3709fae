"""/ask, the "Ask for a commitment" shortcut, and every button and modal in an ask's thread.

Kept together so that one file shows the whole loop: ask, obstacles, commitment, done,
and the prompt to appreciate.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import asks as render
from bot.blocks.home import NEW_ASK_ACTION
from bot.domain import PersonInfo, Workspace
from bot.errors import UserError
from bot.listeners.common import (
    ask_said_in_private,
    lookup_with,
    tell,
    workspace_of,
)
from bot.listeners.forms import Form, Refused, Submission
from bot.listeners.modals import open_appreciation_modal
from bot.runtime import Runtime
from bot.services import ask_posts, asks, steps
from bot.services.dates import parse_due, split_due
from bot.services.people import mark_used
from bot.slack import ask_status, conversations

log = logging.getLogger(__name__)

ASK_FOR_COMMITMENT = "ask_for_commitment"
_HELPER = re.compile(r"\s*<([@!][^<>]*)>\s*")
_PERSON = re.compile(r"@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?")
_MENTIONS = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>")


def parse_ask_text(text: str) -> tuple[str, str, str | None]:
    """`<@U1> request [by when]` -> (helper id, request, when phrase). Raises UserError."""
    match = _HELPER.match(text)
    person = _PERSON.fullmatch(match.group(1)) if match else None
    if match and person is None:
        raise UserError("Ask one person by name, not a group or a whole channel.")
    if person is None or match is None:
        raise UserError(
            "Who are you asking? Start with their @name: `/ask @ana review the renewal quote "
            "by Friday`"
        )
    request, when = split_due(text[match.end() :])
    return person.group(1), request, when


def helpers_for(runtime: Runtime, client: WebClient, context: BoltContext) -> tuple[Workspace, Any]:
    workspace = workspace_of(context)
    return workspace, lookup_with(runtime, client, workspace)


def begin(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    lookup: Any,
    *,
    asker_id: str,
    helper_id: str,
    request: str,
    channel_id: str,
    due_on: date | None,
    asker: PersonInfo | None,
    source_key: str,
    thread_ts: str | None,
) -> str:
    asks.check_new(asker_id, helper_id, request)
    helper = lookup(helper_id)
    if helper is None:
        raise UserError(f"I couldn't find <@{helper_id}> in this workspace.")
    if helper.is_bot:
        raise UserError(f"<@{helper_id}> is a bot. Ask the person behind the work.")
    if helper.deleted:
        raise UserError(f"<@{helper_id}> is no longer active here.")
    info = runtime.conversations.info(client, workspace.team_id, channel_id)
    problem = ask_status.channel_problem(client, channel_id, info)
    if problem:
        raise UserError(problem)
    now = runtime.clock()
    zone = asker.zone(runtime.settings.timezone).key if asker else runtime.settings.timezone
    ask, new = asks.start(
        runtime.db,
        workspace,
        asker_id=asker_id,
        helper_id=helper_id,
        request=request,
        channel_id=channel_id,
        due_on=due_on,
        timezone=zone,
        source_key=source_key,
        now=now,
        thread_ts=thread_ts,
        said_in_private=info is None or conversations.is_private(info),
    )
    if new:
        mark_used(runtime.db, workspace, [asker_id, helper_id], now)
    # Delivered on a run after a crash too: what the first run recorded but did not send
    # goes out now, and nothing twice (the posts are keyed).
    deliveries = runtime.sender.deliver(ask_posts.first_posts(runtime.db, workspace, ask, now))
    if not new and not deliveries:
        return "That ask is already posted; nothing was sent twice."
    if any(d.status == "failed" for d in deliveries):
        return "I recorded your ask but couldn't post it in this channel."
    if any(d.status == "pending" for d in deliveries):
        return "Your ask is recorded; Slack is slow, so it will appear in a moment."
    return (
        f"Asked <@{helper_id}>. I'll ask them about obstacles and a commitment in the "
        "thread, and remind you both as the date comes."
    )


def ask_from(runtime: Runtime, action: dict[str, Any], workspace: Workspace) -> Any:
    try:
        return asks.require(runtime.db, workspace, int(action.get("value") or ""))
    except ValueError:
        raise UserError("That button no longer works.") from None


def after_change(
    runtime: Runtime, client: WebClient, workspace: Workspace, ask: Any, event: str
) -> None:
    runtime.sender.deliver(ask_posts.event_post(runtime.db, workspace, ask, event, runtime.clock()))
    # The ending of the step's run that posted this ask, when this change ended it.
    runtime.sender.deliver(steps.pending_ending(runtime.db, workspace, ask))
    ask_status.refresh(client, ask)


def transition(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    ask_id: int,
    user_id: str,
    event: str,
    **changes: Any,
) -> None:
    ask = asks.apply(runtime.db, workspace, ask_id, user_id, event, runtime.clock(), **changes)
    after_change(runtime, client, workspace, ask, event)


def register(app: App, runtime: Runtime) -> None:
    @app.command("/ask")
    def ask_command(
        ack: Ack,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        text = (command.get("text") or "").strip()
        if not text or text.lower() == "help":
            respond(
                "*Ask well.* `/ask @ana review the renewal quote by Friday` posts your ask "
                "here; in its thread I ask Ana what could get in the way and whether she can "
                "commit, remind you both as the date comes, and prompt you to thank her when "
                "it's done. Dates: `by Friday`, `by tomorrow`, `by Dec 4`, `by 2026-12-04`, "
                "`by EOD`."
            )
            return
        workspace, lookup = helpers_for(runtime, client, context)
        helper_id, request, when = parse_ask_text(text)
        asker = lookup(command["user_id"])
        due = None
        if when:
            zone = asker.zone(runtime.settings.timezone) if asker else None
            due = parse_due(when, runtime.clock(), zone or ZoneInfo(runtime.settings.timezone))
        respond(
            begin(
                runtime,
                client,
                workspace,
                lookup,
                asker_id=command["user_id"],
                helper_id=helper_id,
                request=request,
                channel_id=command["channel_id"],
                due_on=due,
                asker=asker,
                source_key=f"command:{command['trigger_id']}",
                thread_ts=None,
            )
        )

    @app.shortcut(ASK_FOR_COMMITMENT)
    def ask_shortcut(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        message = shortcut.get("message") or {}
        mentioned = {m for m in _MENTIONS.findall(message.get("text") or "")}
        mentioned.discard(shortcut["user"]["id"])
        helper = mentioned.pop() if len(mentioned) == 1 else None
        request = _MENTIONS.sub("", message.get("text") or "").strip()
        metadata = {
            "channel_id": shortcut["channel"]["id"],
            "message_ts": shortcut.get("message_ts") or message.get("ts"),
        }
        client.views_open(
            trigger_id=shortcut["trigger_id"],
            view=render.ask_modal(helper=helper, request=request, metadata=metadata),
        )

    @app.action(NEW_ASK_ACTION)
    def ask_from_home(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"],
            view=render.ask_modal(helper=None, request="", metadata={}),
        )

    @app.action(render.NO_OBSTACLES)
    def no_obstacles(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        ask = ask_from(runtime, action, workspace)
        asks.check_role(ask, body["user"]["id"], "helper")
        runtime.sender.deliver(
            ask_posts.event_post(runtime.db, workspace, ask, "no_obstacles", runtime.clock())
        )

    @app.action(render.RAISE_OBSTACLE)
    def raise_obstacle(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        ask = ask_from(runtime, action, workspace_of(context))
        asks.check_role(ask, body["user"]["id"], "helper")
        client.views_open(trigger_id=body["trigger_id"], view=render.obstacle_modal(ask))

    @app.action(render.COMMIT)
    def commit(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        workspace, lookup = helpers_for(runtime, client, context)
        ask = ask_from(runtime, action, workspace)
        asks.check_can(ask, body["user"]["id"], "commit")
        me = lookup(body["user"]["id"])
        zone = me.zone(ask.timezone) if me else ZoneInfo(ask.timezone)
        today = runtime.clock().astimezone(zone).date()
        client.views_open(trigger_id=body["trigger_id"], view=render.commit_modal(ask, today))

    @app.action(render.DECLINE)
    def decline(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        ask = ask_from(runtime, action, workspace_of(context))
        asks.check_can(ask, body["user"]["id"], "decline")
        client.views_open(trigger_id=body["trigger_id"], view=render.decline_modal(ask))

    @app.action(re.compile(f"^({render.DISCUSS}|{render.DONE}|{render.CANCEL})$"))
    def simple_transition(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        event = action["action_id"].removeprefix("ask_")
        ask = ask_from(runtime, action, workspace)
        transition(runtime, client, workspace, ask.id, body["user"]["id"], event)

    @app.action(re.compile(f"^({render.OBSTACLE_HANDLING}|{render.OBSTACLE_RESOLVED})$"))
    def obstacle_answer(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        status = action["action_id"].removeprefix("ask_obstacle_")
        try:
            obstacle_id = int(action.get("value") or "")
        except ValueError:
            return
        ask, _ = asks.update_obstacle(
            runtime.db, workspace, obstacle_id, body["user"]["id"], status, runtime.clock()
        )
        runtime.sender.deliver(
            ask_posts.obstacle_post(
                runtime.db, workspace, ask, obstacle_id, status, runtime.clock()
            )
        )
        ask_status.refresh(client, ask)

    @app.action(render.APPRECIATE)
    def appreciate_helper(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        ask = ask_from(runtime, action, workspace_of(context))
        asks.check_role(ask, body["user"]["id"], "asker")
        open_appreciation_modal(
            client,
            runtime,
            workspace_of(context),
            trigger_id=body["trigger_id"],
            channel_id=ask.channel_id,
            recipients=[ask.helper_id],
            ask_id=ask.id,
            linked_text=f"For: {ask.request[:150]}",
            said_in=ask.channel_id if ask_said_in_private(runtime, client, ask) else None,
        )


def forms(runtime: Runtime) -> list[Form]:
    """The ask's forms: each checked before its modal closes, applied once after."""

    def check_ask(form: Submission) -> dict[str, Any]:
        helper_id = str(form.value("helper", "selected_user") or "")
        request = form.text("request")
        try:
            asks.check_new(form.user_id, helper_id, request)
        except UserError as error:
            field = "helper" if helper_id == form.user_id else "request"
            raise Refused({field: error.message}) from None
        due = form.value("due", "selected_date")
        if due:
            # The asker's day: a date they pick is read in their timezone.
            asker = lookup_with(runtime, form.client, form.workspace)(form.user_id)
            zone = asker.zone(runtime.settings.timezone) if asker else ZoneInfo("UTC")
            try:
                due = parse_due(due, runtime.clock(), zone).isoformat()
            except UserError as error:
                raise Refused({"due": error.message}) from None
        return {
            "helper_id": helper_id,
            "request": request,
            "due_on": due or None,
            "channel_id": form.metadata.get("channel_id")
            or form.value("channel", "selected_conversation")
            or "",
            "thread_ts": form.metadata.get("message_ts"),
        }

    def apply_ask(form: Submission, accepted: dict[str, Any]) -> None:
        workspace, lookup = helpers_for(runtime, form.client, form.context)
        due = accepted["due_on"]
        try:
            summary = begin(
                runtime,
                form.client,
                workspace,
                lookup,
                asker_id=form.user_id,
                helper_id=accepted["helper_id"],
                request=accepted["request"],
                channel_id=accepted["channel_id"],
                due_on=date.fromisoformat(due) if due else None,
                asker=lookup(form.user_id),
                source_key=f"view:{form.view['id']}",
                thread_ts=accepted["thread_ts"],
            )
        except UserError as error:
            summary = f"Not asked: {error.message}"
        tell(form.client, summary, user_id=form.user_id, channel_id=accepted["channel_id"])

    def check_obstacle(form: Submission) -> dict[str, Any]:
        text = form.text("description")
        if not text:
            raise Refused({"description": "Describe the obstacle."})
        return {"ask_id": int(form.metadata["ask_id"]), "text": text}

    def apply_obstacle(form: Submission, accepted: dict[str, Any]) -> None:
        workspace = form.workspace
        ask, obstacle = asks.raise_obstacle(
            runtime.db,
            workspace,
            accepted["ask_id"],
            form.user_id,
            accepted["text"],
            runtime.clock(),
        )
        runtime.sender.deliver(
            ask_posts.obstacle_post(
                runtime.db, workspace, ask, obstacle.id, "open", runtime.clock()
            )
        )
        ask_status.refresh(form.client, ask)

    def check_commit(form: Submission) -> dict[str, Any]:
        picked = _day(form.value("date", "selected_date"))
        ask = asks.get(runtime.db, form.workspace, int(form.metadata["ask_id"]))
        # The earliest day is the helper's today when the form opened, as the form offered
        # it; else their today now, in their timezone.
        earliest = _day(form.metadata.get("today"))
        if earliest is None:
            me = lookup_with(runtime, form.client, form.workspace)(form.user_id)
            zone = me.zone(ask.timezone if ask else "UTC") if me else ZoneInfo("UTC")
            earliest = runtime.clock().astimezone(zone).date()
        if picked is None or (ask is not None and picked < earliest):
            raise Refused({"date": "Pick today or a later day."})
        return {"ask_id": ask.id if ask else None, "committed_on": picked.isoformat()}

    def apply_commit(form: Submission, accepted: dict[str, Any]) -> None:
        if accepted["ask_id"] is None:
            return
        transition(
            runtime,
            form.client,
            form.workspace,
            accepted["ask_id"],
            form.user_id,
            "commit",
            committed_on=date.fromisoformat(accepted["committed_on"]),
        )

    def check_decline(form: Submission) -> dict[str, Any]:
        return {"ask_id": int(form.metadata["ask_id"]), "reason": form.text("reason") or None}

    def apply_decline(form: Submission, accepted: dict[str, Any]) -> None:
        transition(
            runtime,
            form.client,
            form.workspace,
            accepted["ask_id"],
            form.user_id,
            "decline",
            reason=accepted["reason"],
        )

    return [
        Form(render.ASK_MODAL, check_ask, apply_ask),
        Form(render.OBSTACLE_MODAL, check_obstacle, apply_obstacle),
        Form(render.COMMIT_MODAL, check_commit, apply_commit),
        Form(render.DECLINE_MODAL, check_decline, apply_decline),
    ]


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
