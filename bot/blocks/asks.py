"""What asks look like in Slack: the ask, its thread questions, replies, reminders, modals."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.blocks.common import Block, actions, button, context, message, plain, section
from bot.services.asks import OPEN, describe_status
from bot.store.models import Ask, Obstacle
from bot.text import mention, safe_mrkdwn, truncate

NO_OBSTACLES = "ask_no_obstacles"
RAISE_OBSTACLE = "ask_raise_obstacle"
OBSTACLE_HANDLING = "ask_obstacle_handling"
OBSTACLE_RESOLVED = "ask_obstacle_resolved"
COMMIT = "ask_commit"
DISCUSS = "ask_discuss"
DECLINE = "ask_decline"
DONE = "ask_done"
CANCEL = "ask_cancel"
APPRECIATE = "ask_appreciate"

ASK_MODAL = "ask_modal"
OBSTACLE_MODAL = "ask_obstacle_modal"
COMMIT_MODAL = "ask_commit_modal"
DECLINE_MODAL = "ask_decline_modal"

STATUS_EMOJI = {
    "asked": ":hourglass_flowing_sand:",
    "obstacle open": ":construction:",
    "needs a conversation": ":speech_balloon:",
    "done": ":white_check_mark:",
    "declined": ":no_entry_sign:",
    "cancelled": ":heavy_multiplication_x:",
}


def _due(day: date | None) -> str:
    return f" by *{day:%a %-d %b}*" if day else ""


def _status_line(ask: Ask) -> str:
    status = describe_status(ask)
    emoji = STATUS_EMOJI.get(status, ":handshake:")
    line = f"{emoji} Status: *{status}*"
    if ask.thanked_at is not None:
        line += f"  ·  :raised_hands: {mention(ask.asker_id)} thanked {mention(ask.helper_id)}"
    return line


def ask_message(ask: Ask) -> dict[str, Any]:
    """The ask itself, posted in the channel; its status line is updated in place."""
    text = (
        f"{mention(ask.asker_id)} asked {mention(ask.helper_id)}{_due(ask.due_on)}:\n"
        f">{safe_mrkdwn(truncate(ask.request, 2000))}"
    )
    return _with_status(ask, text, f"{mention(ask.asker_id)} asked {mention(ask.helper_id)}")


def status_reply(ask: Ask) -> dict[str, Any]:
    """For an ask made from someone's message: the app's own reply that carries the status."""
    text = (
        f":handshake: {mention(ask.asker_id)} is tracking this as an ask for "
        f"{mention(ask.helper_id)}{_due(ask.due_on)}:\n>{safe_mrkdwn(truncate(ask.request, 500))}"
    )
    return _with_status(ask, text, f"Tracking an ask for {mention(ask.helper_id)}")


def _with_status(ask: Ask, text: str, notification: str) -> dict[str, Any]:
    """`text`, the live status line, and Cancel while the ask is open."""
    blocks: list[Block] = [section(text, verbatim=True), context(_status_line(ask))]
    if ask.status in OPEN:
        blocks.append(actions(button("Cancel", CANCEL, str(ask.id)), block_id=f"ask|{ask.id}"))
    return message(notification, blocks)


def questions(ask: Ask) -> dict[str, Any]:
    """The two questions the helper answers in the thread: obstacles, then commitment."""
    value = str(ask.id)
    blocks: list[Block] = [
        section(
            f"{mention(ask.helper_id)}, before you start: *anything that could get in the "
            "way?* Saying so now is how it gets removed."
        ),
        actions(
            button("No obstacles", NO_OBSTACLES, value),
            button("There's an obstacle", RAISE_OBSTACLE, value),
        ),
        section(
            f"*Can you commit?*{_due(ask.due_on)} If not, say so: a clear answer helps "
            f"{mention(ask.asker_id)} plan."
        ),
        actions(
            button("Commit", COMMIT, value, style="primary"),
            button("Need to discuss", DISCUSS, value),
            button("Can't take this", DECLINE, value),
        ),
    ]
    return message(f"{mention(ask.helper_id)}: anything in the way, and can you commit?", blocks)


def obstacle_posted(ask: Ask, obstacle: Obstacle) -> dict[str, Any]:
    value = str(obstacle.id)
    blocks: list[Block] = [
        section(
            f":construction: {mention(ask.helper_id)} sees an obstacle:\n"
            f">{safe_mrkdwn(truncate(obstacle.description, 2000))}\n"
            f"{mention(ask.asker_id)}, can you help remove it?",
            verbatim=True,
        ),
        actions(
            button("I'll handle it", OBSTACLE_HANDLING, value, style="primary"),
            button("It's resolved", OBSTACLE_RESOLVED, value),
        ),
    ]
    return message(f"{mention(ask.helper_id)} sees an obstacle", blocks)


def obstacle_update(ask: Ask, obstacle: Obstacle) -> dict[str, Any]:
    if obstacle.status == "handling":
        text = f":hammer_and_wrench: {mention(ask.asker_id)} is handling the obstacle."
    else:
        text = f":white_check_mark: The obstacle is resolved. Thank you, {mention(ask.asker_id)}."
    return message(text, [section(text)])


def event_posted(ask: Ask, event: str) -> dict[str, Any]:
    """The thread reply that follows an answer."""
    value = str(ask.id)
    helper, asker = mention(ask.helper_id), mention(ask.asker_id)
    extra: list[Block] = []
    if event == "commit":
        text = f":handshake: {helper} commits to this{_due(ask.committed_on)}."
        extra = [actions(button("Mark done", DONE, value, style="primary"))]
    elif event == "no_obstacles":
        text = f":thumbsup: {helper} sees nothing in the way."
    elif event == "discuss":
        text = f":speech_balloon: {helper} needs to discuss this. {asker}, find a moment together."
    elif event == "decline":
        reason = (
            f"\n>{safe_mrkdwn(truncate(ask.decline_reason or '', 1000))}"
            if ask.decline_reason
            else ""
        )
        text = f":no_entry_sign: {helper} can't take this.{reason}"
    elif event == "done":
        text = f":tada: {helper} delivered. {asker}, appreciate them?"
        extra = [actions(button("Appreciate", APPRECIATE, value, style="primary"))]
    elif event == "cancel":
        text = f":heavy_multiplication_x: {asker} cancelled this ask."
    else:
        raise ValueError(event)
    return message(text, [section(text, verbatim=True), *extra])


def reminder(ask: Ask, kind: str, permalink: str | None = None) -> dict[str, Any]:
    """A reminder DM; `kind` is due_today | overdue_helper | overdue_asker | unanswered."""
    what = f"_{safe_mrkdwn(truncate(ask.request, 300))}_"
    link = f" (<{permalink}|open the thread>)" if permalink else f" in <#{ask.channel_id}>"
    if kind == "due_today":
        text = f":alarm_clock: Due today for {mention(ask.asker_id)}: {what}{link}."
    elif kind == "overdue_helper":
        text = (
            f":warning: This is past due for {mention(ask.asker_id)}: {what}{link}. If "
            "something is in the way, say so in the thread."
        )
    elif kind == "overdue_asker":
        text = (
            f":warning: Your ask to {mention(ask.helper_id)} is past due: {what}{link}. "
            "Is there an obstacle you can help remove?"
        )
    else:
        text = (
            f":hourglass: {mention(ask.helper_id)} hasn't answered your ask yet: {what}{link}. "
            "A quick conversation often unblocks it."
        )
    blocks: list[Block] = [section(text, verbatim=True)]
    if kind in ("due_today", "overdue_helper") and ask.status != "done":
        blocks.append(actions(button("Mark done", DONE, str(ask.id), style="primary")))
    return message(text, blocks)


def _modal(callback_id: str, title: str, submit: str, blocks: list[Block], metadata: dict) -> dict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _text_input(
    block_id: str,
    label: str,
    *,
    initial: str = "",
    multiline: bool = True,
    optional: bool = False,
    placeholder: str = "",
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": 2000,
    }
    if initial:
        element["initial_value"] = initial[:2000]
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }


def _date_input(block_id: str, label: str, initial: date | None, optional: bool) -> Block:
    element: Block = {"type": "datepicker", "action_id": "value"}
    if initial:
        element["initial_date"] = initial.isoformat()
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": element,
    }


def ask_modal(*, helper: str | None, request: str, metadata: dict) -> dict[str, Any]:
    """From "Ask for a commitment": confirm who, what, and by when."""
    helper_element: Block = {
        "type": "users_select",
        "action_id": "value",
        "placeholder": plain("Who are you asking?"),
    }
    if helper:
        helper_element["initial_user"] = helper
    blocks = [
        {
            "type": "input",
            "block_id": "helper",
            "label": plain("Who are you asking?"),
            "element": helper_element,
        },
        _text_input("request", "What do you need?", initial=request),
        _date_input("due", "By when?", None, optional=True),
    ]
    if not metadata.get("channel_id"):
        blocks.append(
            {
                "type": "input",
                "block_id": "channel",
                "label": plain("Where should I post it?"),
                "hint": plain("The ask and its questions live in a thread there.", 150),
                "element": {
                    "type": "conversations_select",
                    "action_id": "value",
                    "filter": {"include": ["public", "private"], "exclude_bot_users": True},
                },
            }
        )
    return _modal(ASK_MODAL, "Ask for a commitment", "Ask", blocks, metadata)


def obstacle_modal(ask: Ask) -> dict[str, Any]:
    blocks = [
        _text_input(
            "description",
            "What could get in the way?",
            placeholder="Missing access, another deadline, a decision someone owes…",
        ),
    ]
    return _modal(OBSTACLE_MODAL, "Raise an obstacle", "Raise it", blocks, {"ask_id": ask.id})


def commit_modal(ask: Ask, today: date) -> dict[str, Any]:
    blocks = [
        section(
            f"Commit to {mention(ask.asker_id)}'s ask:\n>{safe_mrkdwn(truncate(ask.request, 500))}",
            verbatim=True,
        ),
        _date_input("date", "I'll deliver it by", ask.due_on or today, optional=False),
    ]
    # The helper's today when the form opened: the earliest day it accepts, whenever it is
    # sent and worked (see listeners/asks.py).
    metadata = {"ask_id": ask.id, "today": today.isoformat()}
    return _modal(COMMIT_MODAL, "Commit", "Commit", blocks, metadata)


def decline_modal(ask: Ask) -> dict[str, Any]:
    blocks = [
        _text_input(
            "reason",
            "Why can't you take this?",
            placeholder="No capacity until the 15th; try the billing team",
        ),
    ]
    return _modal(DECLINE_MODAL, "Can't take this", "Send", blocks, {"ask_id": ask.id})
