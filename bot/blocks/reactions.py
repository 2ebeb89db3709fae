"""What appreciation by reaction says: one reply in the message's thread, one DM per giver."""

from __future__ import annotations

from typing import Any

from bot.blocks.appreciation import OPEN_MODAL_ACTION
from bot.blocks.common import actions, button, context, message, section
from bot.store.models import Appreciation
from bot.text import mention, safe_mrkdwn, truncate

QUOTE_LIMIT = 300


def _people(user_ids: list[str]) -> str:
    names = [mention(u) for u in user_ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def thread_reply(author_id: str, giver_ids: list[str], emoji: str) -> dict[str, Any]:
    """The one reply under the message, naming everyone who appreciated it by reaction."""
    if not giver_ids:
        text = "No appreciation by reaction on this message any more."
        return message(text, [context(text)])
    text = f":{emoji}: {_people(giver_ids)} appreciated {mention(author_id)} for this message."
    return message(text, [context(text)])


def author_dm(appreciation: Appreciation, emoji: str) -> dict[str, Any]:
    giver = mention(appreciation.giver_id)
    link = appreciation.message_permalink
    what = f"<{link}|your message>" if link else "your message"
    lines = f":{emoji}: {giver} appreciated {what}"
    quoted = appreciation.reason.strip()
    body = f"{lines}:\n>{safe_mrkdwn(truncate(quoted, QUOTE_LIMIT))}" if quoted else lines + "."
    return message(
        f"{giver} appreciated your message",
        [
            section(body, verbatim=True),
            context("The people you help remember it. Pass it on: who helped you lately?"),
            actions(button("Appreciate someone", OPEN_MODAL_ACTION)),
        ],
    )


def withdrawn_dm(giver_id: str) -> dict[str, Any]:
    text = f"{mention(giver_id)} took back their reaction, so this appreciation was withdrawn."
    return message(text, [context(text)])


def over_limit(daily_limit: int) -> dict[str, Any]:
    text = (
        f"You've given {daily_limit} appreciations today, the most one person can give in a "
        "day, so this reaction didn't count as one. Thank you for being generous! "
        "It can tomorrow."
    )
    return message(text, [section(text)])
