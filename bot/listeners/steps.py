"""Workflow Builder's custom steps: "Appreciate someone" and "Ask for a commitment".

A run starts as a `function_executed` event, stored before the ack like every event (its
token kept apart, bot/services/steps.py), and worked here by the same code as `/appreciate`
and `/ask`. Bolt's `app.function` would hand the listener `complete()` and `fail()`, which
call Slack at once; a run's ending is an outbox message instead, keyed by the run, so that
it is recorded with what caused it and sent once, also when the process dies between the
helper's click and the call. So the listener is a plain event listener.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.domain import Workspace
from bot.errors import UserError
from bot.listeners import asks as ask_listeners
from bot.listeners.common import config_of, looked_up, lookup_with, workspace_of
from bot.runtime import Runtime
from bot.services import appreciation, outbox, steps

log = logging.getLogger(__name__)

# The callback ids of the steps in manifest.json's `functions`: the contract with the
# workflows people build, never renamed.
APPRECIATE_STEP = "appreciate"
ASK_STEP = "ask_for_commitment"
STEPS = (APPRECIATE_STEP, ASK_STEP)


def register(app: App, runtime: Runtime) -> None:
    @app.event("function_executed")
    def step_executed(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        workspace = workspace_of(context)
        given = event.get("function_execution_id")
        run = steps.find(runtime.db, workspace, given) if isinstance(given, str) else None
        if run is None or run.status != "open":
            log.info("step run %r is not open (ended, or never recorded)", given)
            return
        execution_id, callback_id = run.execution_id, run.callback_id
        inputs = event.get("inputs")
        inputs = inputs if isinstance(inputs, dict) else {}
        if callback_id == APPRECIATE_STEP:
            appreciate(runtime, client, workspace, execution_id, inputs)
        elif callback_id == ASK_STEP:
            ask_for_commitment(runtime, client, workspace, execution_id, inputs)
        else:
            log.warning("a step this app does not have: %r", callback_id)
            end(runtime, workspace, execution_id, error="Advocate has no such step.")


def end(
    runtime: Runtime,
    workspace: Workspace,
    execution_id: str,
    *,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Complete the run (or fail it with `error`): recorded once, then sent."""
    message = steps.result(workspace, execution_id, runtime.clock(), outputs=outputs, error=error)
    runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, [message]))


def appreciate(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    execution_id: str,
    inputs: dict[str, Any],
) -> None:
    """The "Appreciate someone" step: `/appreciate` with the step's inputs, every rule the
    same; its refusals fail the step with the words a person reads."""
    settings = config_of(runtime, workspace)
    giver_id = str(inputs.get("giver") or "")
    recipients = inputs.get("recipients") or []
    recipients = recipients if isinstance(recipients, list) else [recipients]
    recipient_ids = list(dict.fromkeys(str(r) for r in recipients if r))
    channel_id = str(inputs.get("channel") or "") or None
    try:
        tag = str(inputs.get("value") or "").strip()
        values = (
            [appreciation.company_value(tag, settings.values)] if tag and settings.values else []
        )
        draft = appreciation.Draft(
            giver_id=giver_id,
            recipient_ids=recipient_ids,
            reason=str(inputs.get("reason") or "").strip(),
            values=values,
            channel_id=channel_id,
            source_key=steps.key_of(execution_id),
        )
        appreciation.check_draft(draft)  # a refused draft costs no lookups
        if channel_id:
            draft.said_in_private = runtime.conversations.private(
                client, workspace.team_id, channel_id
            )
        given = appreciation.give_and_deliver(
            runtime.db,
            workspace,
            draft,
            runtime.clock(),
            lookup=looked_up(runtime, client, workspace, [giver_id, *recipient_ids]),
            deliver=runtime.sender.deliver_claimed,
            daily_limit=settings.daily_limit,
            fallback_tz=settings.timezone,
        )
    except UserError as refused:
        end(runtime, workspace, execution_id, error=str(refused))
        return
    appreciation_id = given.recorded.appreciation_id
    if not channel_id:
        end(runtime, workspace, execution_id, outputs={})
        return
    post = outbox.find(runtime.db, workspace, f"appreciation:{appreciation_id}:post")
    if post is not None and post.status == "pending":
        # Recorded by a run that died before sending it: sent now (once, by its key).
        runtime.sender.deliver([post.id])
        post = outbox.find(runtime.db, workspace, post.dedupe_key)
    if post is None or post.status == "failed":
        problem = appreciation.post_problem(post.last_error if post else None, channel_id)
        end(runtime, workspace, execution_id, error=problem)
        return
    if post.status != "sent" or not post.sent_ts:
        # Slack is slow: the post goes out with the next tick, and the step is tried again.
        raise StepNotReady(f"the appreciation of run {execution_id} is not posted yet")
    where = post.sent_channel_id or channel_id
    permalink = client.chat_getPermalink(channel=where, message_ts=post.sent_ts)["permalink"]
    end(runtime, workspace, execution_id, outputs={"permalink": permalink})


class StepNotReady(Exception):
    """The run waits for a message Slack has not taken yet; its request runs again."""


def ask_for_commitment(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    execution_id: str,
    inputs: dict[str, Any],
) -> None:
    """The "Ask for a commitment" step: `/ask` with the step's inputs, posted with its
    thread questions by the same code. The run ends when the ask changes
    (steps.ask_changed): it completes on the helper's commitment (or when they mark it
    done, with `complete_when: done`), and fails on a decline or the asker's cancel."""
    complete_when = "done" if inputs.get("complete_when") == "done" else "committed"
    steps.expect(runtime.db, workspace, execution_id, complete_when)
    asker_id = str(inputs.get("asker") or "")
    lookup = lookup_with(runtime, client, workspace)
    try:
        due_on = _date(inputs.get("due_date"))
        ask_listeners.begin(
            runtime,
            client,
            workspace,
            lookup,
            asker_id=asker_id,
            helper_id=str(inputs.get("helper") or ""),
            request=str(inputs.get("request") or ""),
            channel_id=str(inputs.get("channel") or ""),
            due_on=due_on,
            asker=lookup(asker_id) if asker_id else None,
            source_key=steps.key_of(execution_id),
            thread_ts=None,
        )
    except UserError as refused:
        end(runtime, workspace, execution_id, error=str(refused))


def _date(value: Any) -> date | None:
    """A `slack#/types/date` input (YYYY-MM-DD), or None when the workflow gave none."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UserError(f"{value} isn't a date I can read; pick one in the step.") from None
