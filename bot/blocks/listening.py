"""`/listen`: the question to a colleague, their form, and the answer that reaches the asker."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.appreciation import APPRECIATE_PERSON, appreciate_person_value
from bot.blocks.common import Block, actions, button, context, message, plain, section
from bot.services.listening import MAX_ANSWER, MAX_PEOPLE, MAX_TOPIC
from bot.store.models import Listen
from bot.text import mention, safe_mrkdwn, truncate

# Opens the /listen form with a colleague preselected (value: their user id); on the Home's
# "your people" and after a check-in's buy-in goal.
LISTEN_OPEN = "listen_open"
# The check-in's follow-up, "Did you act on it?": value is "<listen id>|<ISO week>".
FOLLOWUP_PREFIX = "listen_followup_"
FOLLOWUP_ANSWERS = ("yes", "not_yet", "skip")


def followup_value(listen_id: int, week: str) -> str:
    return f"{listen_id}|{week}"


def from_followup_value(value: str) -> tuple[int, str] | None:
    listen_id, _, week = value.partition("|")
    return (int(listen_id), week) if listen_id.isdigit() and week else None


ANSWER = "listen_answer"  # opens the answer form (value: listen id)
NOT_NOW = "listen_not_now"
WILL_ACT = "listen_will_act"
ANSWER_MODAL = "listen_answer_modal"
LISTEN_MODAL = "listen_modal"


def _about(listen: Listen) -> str:
    return f"\n_About: {safe_mrkdwn(truncate(listen.topic, MAX_TOPIC))}_" if listen.topic else ""


def question(listen: Listen) -> dict[str, Any]:
    """The DM to the colleague: what do you need from the asker?"""
    value = str(listen.id)
    asker = mention(listen.asker_id)
    return message(
        f"{asker} would like to know what you need from them.",
        [
            section(
                f"{asker} would like to make working together easier.\n"
                f"*What do you need from {asker} to do your best work?*{_about(listen)}",
                verbatim=True,
            ),
            actions(
                button("Answer", ANSWER, value, style="primary"),
                button("Not now", NOT_NOW, value),
            ),
            context(f"Only {asker} sees your answer: never a channel, a digest or a leaderboard."),
        ],
    )


def answer_modal(listen: Listen, response_url: str | None) -> dict[str, Any]:
    metadata = {"listen_id": listen.id, "response_url": response_url}

    def field(block_id: str, label: str, hint: str, *, optional: bool) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": plain(label),
            "hint": plain(hint, 150),
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "multiline": True,
                "max_length": MAX_ANSWER,
            },
        }

    return {
        "type": "modal",
        "callback_id": ANSWER_MODAL,
        "title": plain("What you need", 24),
        "submit": plain("Send", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            section(f"For {mention(listen.asker_id)} only.{_about(listen)}", verbatim=True),
            field(
                "need",
                "What do you need from them?",
                "To do your best work: information, timing, a decision, a heads-up…",
                optional=False,
            ),
            field(
                "obstacle",
                "What most often gets in your way?",
                "Anything they could change or help remove.",
                optional=True,
            ),
            field(
                "preference",
                "How do you like to be asked?",
                "A DM, a ticket, a call; how much notice; what to include.",
                optional=True,
            ),
        ],
    }


def answered(listen: Listen) -> dict[str, Any]:
    """The DM to the asker, quoting the answer: for them alone."""
    who = mention(listen.colleague_id)
    lines = [f"*{who} told you what they need from you:*\n>{_quote(listen.need or '')}"]
    if listen.obstacle:
        lines.append(f"*What most often gets in their way:*\n>{_quote(listen.obstacle)}")
    if listen.preference:
        lines.append(f"*How they like to be asked:*\n>{_quote(listen.preference)}")
    return message(
        f"{who} told you what they need from you.",
        [
            section("\n".join(lines) + _about(listen), verbatim=True),
            actions(
                button("I'll act on it", WILL_ACT, str(listen.id), style="primary"),
                button(
                    "Thank them", APPRECIATE_PERSON, appreciate_person_value(listen.colleague_id)
                ),
            ),
            context(
                "This is for you alone. Your check-in will ask whether you acted on it; "
                f"when you have, I'll tell {who}."
            ),
        ],
    )


def _quote(text: str) -> str:
    return safe_mrkdwn(truncate(text, 900)).replace("\n", "\n>")


def thanks_for_answering(listen: Listen) -> str:
    return (
        f"Thank you. Your answer went to {mention(listen.asker_id)}, and only to them. "
        "Saying what you need is how working together gets easier."
    )


def not_now(listen: Listen) -> str:
    return f"No problem. I've let {mention(listen.asker_id)} know it isn't a good time."


def declined(listen: Listen) -> dict[str, Any]:
    who = mention(listen.colleague_id)
    return message(
        f"{who} can't answer right now.",
        [
            section(
                f"{who} can't answer right now. That's fine: try again in a week or two, "
                "or ask over a coffee. Listening doesn't need a form."
            )
        ],
    )


def will_act_told(listen: Listen) -> dict[str, Any]:
    asker = mention(listen.asker_id)
    return message(
        f"{asker} read what you need and means to act on it.",
        [section(f"{asker} read what you said you need, and means to act on it.")],
    )


def acted_told(listen: Listen) -> dict[str, Any]:
    asker = mention(listen.asker_id)
    return message(
        f"{asker} acted on what you asked for.",
        [
            section(
                f":white_check_mark: {asker} acted on what you asked for:\n"
                f">{_quote(listen.need or '')}",
                verbatim=True,
            )
        ],
    )


def sent(colleague_ids: list[str]) -> str:
    names = ", ".join(mention(c) for c in colleague_ids)
    return (
        f"Sent. I asked {names} privately what they need from you; each answer comes to you "
        "alone. Then act on it: your check-in will ask how it went."
    )


FOLLOWUP_REPLIES = {
    "yes": "I told {who}. Asking, listening, then acting: that's how colleagues become advocates.",
    "skip": "Skipped. I won't ask about it again.",
    "not_yet": "No rush. I'll ask again in next week's check-in.",
    "dropped": "That's the third \u201cnot yet\u201d, so I'll stop asking. What {who} needs "
    "stays on your Home.",
}


def listen_modal(colleague_ids: list[str]) -> dict[str, Any]:
    """/listen without text, or "Ask what they need": whom to ask, and about what."""
    people: Block = {
        "type": "multi_users_select",
        "action_id": "value",
        "placeholder": plain("Choose colleagues"),
        "max_selected_items": MAX_PEOPLE,
    }
    if colleague_ids:
        people["initial_users"] = colleague_ids
    return {
        "type": "modal",
        "callback_id": LISTEN_MODAL,
        "title": plain("Ask what they need", 24),
        "submit": plain("Ask", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                "I'll ask them privately what they need from you to do their best work. "
                "Each answer comes to you alone."
            ),
            {
                "type": "input",
                "block_id": "people",
                "label": plain("Whose needs do you want to hear?"),
                "element": people,
            },
            {
                "type": "input",
                "block_id": "topic",
                "optional": True,
                "label": plain("About what?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "max_length": MAX_TOPIC,
                    "placeholder": plain("the quarterly close, the launch, our handoffs…"),
                },
            },
        ],
    }
