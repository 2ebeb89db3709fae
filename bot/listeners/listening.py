"""/listen, its form, the colleague's answer, and following it through.

Kept together so that one file shows the whole loop: ask what they need, hear it (the
asker alone), act on it, and let them know.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.blocks import listening as render
from bot.domain import Workspace
from bot.errors import UserError
from bot.listeners.common import looked_up, workspace_of
from bot.listeners.forms import Form, Refused, Submission
from bot.runtime import Runtime
from bot.services import listening, outbox
from bot.services.people import mark_used
from bot.store.models import Listen

log = logging.getLogger(__name__)


def queue(
    runtime: Runtime, workspace: Workspace, user_id: str, key: str, message: dict[str, Any]
) -> list[Any]:
    """DM `user_id` once: a retry or a double click finds `key` taken."""
    row = outbox.direct_message(
        workspace, key=key, user_id=user_id, message=message, now=runtime.clock()
    )
    return runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, [row]))


def begin(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    asker_id: str,
    request: listening.Request,
    source_key: str,
) -> str:
    lookup = looked_up(runtime, client, workspace, [asker_id, *request.colleague_ids])
    listening.check_people(asker_id, request.colleague_ids, lookup)
    asker = lookup(asker_id)
    zone = asker.zone(runtime.settings.timezone) if asker else None
    now = runtime.clock()
    rows = listening.start(
        runtime.db,
        workspace,
        asker_id=asker_id,
        request=request,
        source_key=source_key,
        now=now,
        zone=zone or ZoneInfo(runtime.settings.timezone),
    )
    # Queued on every run, not only the first: a retry after a crash sends what the
    # first run recorded but could not send, and nothing twice.
    questions = [
        outbox.direct_message(
            workspace,
            key=f"listen:{row.id}:ask",
            user_id=row.colleague_id,
            message=render.question(row),
            now=now,
        )
        for row in rows
    ]
    deliveries = runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, questions))
    mark_used(runtime.db, workspace, [asker_id], now)
    if any(d.status == "failed" for d in deliveries):
        return "I recorded your question but couldn't reach them in Slack."
    if any(d.status == "pending" for d in deliveries):
        return "Your question is recorded; Slack is slow, so it will reach them in a moment."
    return render.sent([row.colleague_id for row in rows])


def register(app: App, runtime: Runtime) -> None:
    @app.command("/listen")
    def listen_command(
        ack: Ack,
        command: dict[str, Any],
        client: WebClient,
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        text = (command.get("text") or "").strip()
        if not text:
            client.views_open(trigger_id=command["trigger_id"], view=render.listen_modal([]))
            return
        if text.lower() == "help":
            respond(listening.USAGE)
            return
        request = listening.parse(text)
        source_key = f"command:{command['trigger_id']}"
        respond(
            begin(runtime, client, workspace_of(context), command["user_id"], request, source_key)
        )

    @app.action(render.LISTEN_OPEN)
    def listen_open(
        ack: Ack, action: dict[str, Any], body: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        colleague = action.get("value") or ""
        client.views_open(
            trigger_id=body["trigger_id"],
            view=render.listen_modal([colleague] if colleague else []),
        )

    def listen_from(action: dict[str, Any], workspace: Workspace) -> Listen:
        try:
            return listening.require(runtime.db, workspace, int(action.get("value") or ""))
        except ValueError:
            raise UserError("That button no longer works.") from None

    @app.action(render.ANSWER)
    def answer_clicked(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        ack()
        listen = listen_from(action, workspace_of(context))
        listening.check_colleague(listen, body["user"]["id"])
        client.views_open(
            trigger_id=body["trigger_id"],
            view=render.answer_modal(listen, body.get("response_url")),
        )

    @app.action(render.NOT_NOW)
    def not_now(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        listen = listen_from(action, workspace)
        listen = listening.decline(
            runtime.db, workspace, listen.id, body["user"]["id"], runtime.clock()
        )
        queue(
            runtime,
            workspace,
            listen.asker_id,
            f"listen:{listen.id}:declined",
            render.declined(listen),
        )
        respond(render.not_now(listen), replace_original=True)

    @app.action(render.WILL_ACT)
    def will_act(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        workspace = workspace_of(context)
        listen = listen_from(action, workspace)
        listen, first = listening.will_act(
            runtime.db, workspace, listen.id, body["user"]["id"], runtime.clock()
        )
        queue(
            runtime,
            workspace,
            listen.colleague_id,
            f"listen:{listen.id}:will-act",
            render.will_act_told(listen),
        )
        who = f"<@{listen.colleague_id}>"
        respond(
            f"Noted. I let {who} know you read it. Your check-in will ask how it went."
            if first
            else f"Already noted: {who} knows you read it.",
            replace_original=False,
        )

    @app.action(re.compile(f"^{render.FOLLOWUP_PREFIX}({'|'.join(render.FOLLOWUP_ANSWERS)})$"))
    def followed_up(
        ack: Ack,
        action: dict[str, Any],
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
    ) -> None:
        ack()
        answer = action["action_id"].removeprefix(render.FOLLOWUP_PREFIX)
        parsed = render.from_followup_value(action.get("value") or "")
        if parsed is None:
            raise UserError("That button no longer works.")
        listen_id, week = parsed
        workspace = workspace_of(context)
        listen, changed = listening.follow_up(
            runtime.db, workspace, listen_id, body["user"]["id"], answer, week, runtime.clock()
        )
        if listen.followup == "acted":
            queue(
                runtime,
                workspace,
                listen.colleague_id,
                f"listen:{listen.id}:acted",
                render.acted_told(listen),
            )
        reply = {"acted": "yes", "skipped": "skip", "dropped": "dropped"}.get(
            listen.followup, answer
        )
        if not changed and listen.followup == "open":
            reply = "not_yet"
        respond(
            render.FOLLOWUP_REPLIES[reply].format(who=f"<@{listen.colleague_id}>"),
            replace_original=False,
        )


def forms(runtime: Runtime) -> list[Form]:
    """/listen's forms: each checked before its modal closes, applied once after."""

    def check_listen(form: Submission) -> dict[str, Any]:
        chosen = list(form.value("people", "selected_users") or [])
        if not chosen:
            raise Refused({"people": "Choose at least one colleague."})
        if form.user_id in chosen:
            raise Refused({"people": "Choose colleagues, not yourself."})
        if len(chosen) > listening.MAX_PEOPLE:
            raise Refused({"people": f"Ask at most {listening.MAX_PEOPLE} people at once."})
        return {"people": chosen, "topic": form.text("topic")[: listening.MAX_TOPIC] or None}

    def apply_listen(form: Submission, accepted: dict[str, Any]) -> None:
        workspace = form.workspace
        request = listening.Request(accepted["people"], accepted["topic"])
        key = f"view:{form.view['id']}"
        try:
            told = begin(runtime, form.client, workspace, form.user_id, request, key)
        except UserError as error:
            told = f"Not asked: {error.message}"
        queue(runtime, workspace, form.user_id, f"listen-told:{form.view['id']}", _plain(told))

    def check_answer(form: Submission) -> dict[str, Any]:
        need = form.text("need")
        if not need:
            raise Refused({"need": "Say what you need from them."})
        return {
            "listen_id": int(form.metadata.get("listen_id") or 0),
            "need": need,
            "obstacle": form.text("obstacle"),
            "preference": form.text("preference"),
        }

    def apply_answer(form: Submission, accepted: dict[str, Any]) -> None:
        workspace = form.workspace
        try:
            listen = listening.answer(
                runtime.db,
                workspace,
                accepted["listen_id"],
                form.user_id,
                need=accepted["need"],
                obstacle=accepted["obstacle"],
                preference=accepted["preference"],
                answer_key=f"view:{form.view['id']}",
                now=runtime.clock(),
            )
        except UserError as error:
            key = f"listen-told:{form.view['id']}"
            queue(runtime, workspace, form.user_id, key, _plain(error.message))
            return
        key = f"listen:{listen.id}:answer"
        queue(runtime, workspace, listen.asker_id, key, render.answered(listen))
        thanks = render.thanks_for_answering(listen)
        if not _replace(form.metadata.get("response_url"), thanks):
            key = f"listen:{listen.id}:thanks"
            queue(runtime, workspace, form.user_id, key, _plain(thanks))

    return [
        Form(render.LISTEN_MODAL, check_listen, apply_listen),
        Form(render.ANSWER_MODAL, check_answer, apply_answer),
    ]


def _plain(text: str) -> dict[str, Any]:
    return {"text": text}


def _replace(response_url: str | None, text: str) -> bool:
    """Replace the message a button was in (the question's DM) with `text`."""
    if not response_url:
        return False
    try:
        response = WebhookClient(response_url, timeout=10).send(text=text, replace_original=True)
    except Exception:
        log.info("could not replace the question's DM; sending a new one")
        return False
    return response.status_code == 200
