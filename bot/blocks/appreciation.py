"""What appreciation looks like in Slack: the channel post, the DM, the modal, the replies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.blocks.common import (
    Block,
    actions,
    button,
    context,
    message,
    plain,
    section,
)
from bot.domain import Appreciated
from bot.store.models import Ask
from bot.store.queries import Standing
from bot.text import mention, safe_mrkdwn, truncate

MODAL_CALLBACK = "appreciate_modal"
OPEN_MODAL_ACTION = "appreciate_open_modal"
# The modal with one colleague preselected: the value is their id, then optionally "|" and
# the ids of asks (the clicker's own) that the thanks is for.
APPRECIATE_PERSON = "appreciate_person"
# Words from a private conversation are shared there or nowhere (README, "Private stays
# where it was said"): the form's hint, and its error when another channel is chosen.
PRIVATE_HINT = (
    "It comes from a private conversation: share it there, or leave empty to send it only to them."
)
SHARED_HINT = "Leave empty to send it only to them."
PRIVATE_ELSEWHERE = (
    "This comes from a private conversation, so it can be shared only there. Choose that "
    "conversation, or leave this empty to send it only to them."
)


def appreciate_person_value(user_id: str, ask_ids: Sequence[int] = ()) -> str:
    return user_id + ("|" + ",".join(str(i) for i in ask_ids) if ask_ids else "")


def person_from_value(value: str) -> tuple[str, list[int]]:
    """`appreciate_person_value` read back; unreadable ask ids are dropped."""
    user_id, _, ids = value.partition("|")
    return user_id, [int(i) for i in ids.split(",") if i.isdigit()]


def _people(user_ids: Sequence[str]) -> str:
    names = [mention(u) for u in user_ids]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _values_line(values: Sequence[str]) -> str:
    return "  ".join(f"`#{v}`" for v in values)


def _quote(reason: str) -> str:
    return "\n".join(f">{line}" for line in safe_mrkdwn(reason).splitlines() or [""])


def _for_the_ask(ask: Ask, permalink: str | None) -> str:
    """The ask an appreciation closes, named (and linked, where its link is known)."""
    request = safe_mrkdwn(truncate(" ".join(ask.request.split()), 80))
    named = f"“{request}”"
    return f"for the ask <{permalink}|{named}>" if permalink else f"for the ask {named}"


def channel_message(appreciation: Appreciated, ask: Ask | None = None) -> dict[str, Any]:
    """The public post: who thanked whom, and why, in the giver's own words (in an ask's
    thread, `ask` is the ask it closes)."""
    recipients = _people(appreciation.recipient_ids)
    headline = f":sparkles: {mention(appreciation.giver_id)} appreciates {recipients}"
    blocks: list[Block] = [section(f"{headline}\n{_quote(appreciation.reason)}", verbatim=True)]
    notes = []
    if appreciation.company_values:
        notes.append(_values_line(appreciation.company_values))
    if ask is not None:
        notes.append(_for_the_ask(ask, appreciation.message_permalink))
    elif appreciation.message_permalink:
        notes.append(f"<{appreciation.message_permalink}|for this message>")
    if notes:
        blocks.append(context(*notes))
    return message(f"{mention(appreciation.giver_id)} appreciates {recipients}", blocks)


def recipient_dm(appreciation: Appreciated, ask: Ask | None = None) -> dict[str, Any]:
    """The DM each recipient gets, public or private (linking the ask it closes)."""
    giver = mention(appreciation.giver_id)
    everyone = appreciation.recipient_ids
    lead = f":sparkles: {giver} appreciated " + ("you" if len(everyone) == 1 else _people(everyone))
    lead += " (just between you)" if appreciation.is_private else ""
    blocks: list[Block] = [section(f"{lead}:\n{_quote(appreciation.reason)}", verbatim=True)]
    notes = []
    if appreciation.company_values:
        notes.append(_values_line(appreciation.company_values))
    if ask is not None:
        notes.append(_for_the_ask(ask, appreciation.message_permalink))
    elif appreciation.message_permalink:
        notes.append(f"<{appreciation.message_permalink}|for this message>")
    notes.append("The people you help remember it. Pass it on: who helped you lately?")
    blocks.append(context(*notes))
    blocks.append(actions(button("Appreciate someone", OPEN_MODAL_ACTION)))
    return message(f"{giver} appreciated you", blocks)


def modal(
    *,
    values: Sequence[str],
    metadata: dict[str, Any],
    recipients: Sequence[str] = (),
    channel_id: str | None = None,
    linked_text: str | None = None,
    reason: str | None = None,
    from_private: bool = False,
) -> dict[str, Any]:
    """The appreciation modal. `metadata` travels back on submission (channel, links);
    `reason` is a first draft of the reason, for the giver to edit; `from_private`: it is
    for something said in a private conversation, where alone it may be shared."""
    recipients_element: Block = {
        "type": "multi_users_select",
        "action_id": "value",
        "placeholder": plain("Who helped you?"),
        "max_selected_items": 10,
    }
    if recipients:
        recipients_element["initial_users"] = list(recipients)
    blocks: list[Block] = []
    if linked_text:
        blocks.append(context(safe_mrkdwn(linked_text)))
    blocks += [
        {
            "type": "input",
            "block_id": "recipients",
            "label": plain("Who do you want to appreciate?"),
            "element": recipients_element,
        },
        {
            "type": "input",
            "block_id": "reason",
            "label": plain("What did they do?"),
            "hint": plain("Be specific: what they did, and what it made possible.", 150),
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "multiline": True,
                "max_length": 1000,
                "placeholder": plain("Thanks for staying late to get the order out…", 150),
                **({"initial_value": reason[:1000]} if reason else {}),
            },
        },
    ]
    if values:
        blocks.append(
            {
                "type": "input",
                "block_id": "values",
                "optional": True,
                "label": plain("Which company values did they show?"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": "value",
                    "placeholder": plain("Pick values"),
                    "options": [{"text": plain(f"#{v}"), "value": v[:150]} for v in values[:100]],
                },
            }
        )
    channel_element: Block = {
        "type": "conversations_select",
        "action_id": "value",
        "placeholder": plain("Pick a channel"),
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if channel_id:
        channel_element["initial_conversation"] = channel_id
    blocks += [
        {
            "type": "input",
            "block_id": "channel",
            "optional": True,
            "label": plain("Share it in"),
            "hint": plain(PRIVATE_HINT if from_private else SHARED_HINT, 150),
            "element": channel_element,
        },
        {
            "type": "input",
            "block_id": "visibility",
            "label": plain("Who can see it?"),
            "element": {
                "type": "radio_buttons",
                "action_id": "value",
                "initial_option": _visibility_options()[0],
                "options": _visibility_options(),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": plain("Appreciate someone", 24),
        "submit": plain("Send", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata)[:3000],
        "blocks": blocks,
    }


def _visibility_options() -> list[dict[str, Any]]:
    return [
        {"text": plain("Everyone in the channel"), "value": "public"},
        {"text": plain("Only them (private)"), "value": "private"},
    ]


def recorded_summary(
    recipient_ids: Sequence[str],
    *,
    posted_in: str | None,
    post_problem: str | None,
    pending: bool,
    is_private: bool,
) -> str:
    """What the giver is told: what was shared, where, and what wasn't."""
    people = _people(recipient_ids)
    lines = [f":white_check_mark: Your appreciation for {people} is recorded."]
    if is_private:
        lines.append("It stays private: only they got it, by DM.")
    elif posted_in:
        lines.append(f"Shared in <#{posted_in}>, and {people} got it by DM.")
    elif post_problem:
        lines.append(f"{post_problem} {people} still got it by DM.")
    else:
        lines.append(f"No channel was chosen, so {people} got it by DM only.")
    if pending:
        lines.append("Slack is slow to answer right now; the rest will follow in a moment.")
    return "\n".join(lines)


def help_message(values: Sequence[str]) -> str:
    lines = [
        "*Appreciate the people who help you, specifically and often.*",
        "• `/appreciate @ana for untangling the invoice run` thanks Ana in this channel and by DM.",
        "• `/appreciate @ana @ben for the launch #teamwork` thanks several people; add "
        "company values with `#`.",
        "• `/appreciate` opens a form (private appreciation, another channel).",
        "• `/appreciate stats` shows what you've received and given.",
        "• `/appreciate top [week|month|all]` shows who has been appreciated most.",
        "• On any message: *More actions → Appreciate this*.",
    ]
    if values:
        lines.append("Company values: " + ", ".join(f"`#{v}`" for v in values))
    lines.append(
        "_The toughest sale is often inside your own company. Thank the people who make "
        "your work possible, and they'll become your advocates._"
    )
    return "\n".join(lines)


def stats_message(user_id: str, received: dict[str, int], given: dict[str, int]) -> str:
    def row(counts: dict[str, int]) -> str:
        return (
            f"this week *{counts['week']}* · this month *{counts['month']}* · "
            f"all time *{counts['all']}*"
        )

    return (
        f"*Appreciation for {mention(user_id)}*\n"
        f":inbox_tray: Received: {row(received)}\n"
        f":outbox_tray: Given: {row(given)}"
    )


PERIOD_LABELS = {"week": "this week", "month": "this month", "all": "of all time"}


def top_message(period: str, standings: Sequence[Standing]) -> str:
    label = PERIOD_LABELS[period]
    if not standings:
        return f"No public appreciation {label} yet. Be the first: `/appreciate @someone …`"
    lines = [f"*Most appreciated {label}*"]
    for rank, s in enumerate(standings, start=1):
        givers = "person" if s.distinct_givers == 1 else "people"
        lines.append(
            f"{rank}. {mention(s.user_id)}: {s.received} from {s.distinct_givers} {givers}"
        )
    return "\n".join(lines)
