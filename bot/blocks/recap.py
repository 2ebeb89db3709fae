"""The year-end recap DM, and its text for `advocate recap preview`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.blocks.common import actions, button, context, header, message, section
from bot.services.recap import Carried, Recap
from bot.text import mention

THANK_THEM = "recap_thank_them"


def _times(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _why(colleague: Carried) -> str:
    parts = []
    if colleague.kept:
        parts.append(_times(colleague.kept, "commitment kept for you", "commitments kept for you"))
    if colleague.won:
        parts.append(_times(colleague.won, "buy-in goal won", "buy-in goals won"))
    if colleague.thanked:
        parts.append(_times(colleague.thanked, "thanks from you", "thanks from you"))
    return ", ".join(parts)


def _totals(recap: Recap) -> str:
    return (
        f"You gave {_times(recap.given, 'appreciation', 'appreciations')} and received "
        f"{_times(recap.received, 'appreciation', 'appreciations')}; you kept "
        f"{_times(recap.kept_on_time, 'commitment', 'commitments')} on time."
    )


def draft_reason(recap: Recap) -> str:
    return (
        f"Looking back on {recap.year}: thank you for carrying me this year. "
        "What you did that made the difference: "
    )


def recap_message(recap: Recap) -> dict[str, Any]:
    blocks = [
        header(f"Your {recap.year} in thanks"),
        section(
            "The best sellers thank the people who carried them. Here is who carried you "
            f"in {recap.year}, as your asks, thanks and buy-in goals tell it."
        ),
    ]
    if recap.carried:
        lines = [
            f"{n}. {mention(c.user_id)}: {_why(c)}" for n, c in enumerate(recap.carried, start=1)
        ]
        blocks.append(section("*The colleagues who carried you most*\n" + "\n".join(lines)))
    blocks.append(context(_totals(recap)))
    if recap.carried:
        value = ",".join(c.user_id for c in recap.carried)
        blocks.append(
            actions(button("Thank them", THANK_THEM, f"{recap.year}|{value}", style="primary"))
        )
    return message(f"Your {recap.year} in thanks", blocks)


def recap_text(recap: Recap, name: Callable[[str], str]) -> str:
    """What the person would read, for the terminal."""
    if recap.empty:
        return (
            f"{name(recap.user_id)} gave and received no appreciation in {recap.year}: "
            "there is no recap, and no DM would be sent."
        )
    lines = [f"{recap.year} recap for {name(recap.user_id)}, as they would read it:", ""]
    if recap.carried:
        lines.append("The colleagues who carried you most:")
        lines += [
            f"{n}. {name(c.user_id)}: {_why(c)}" for n, c in enumerate(recap.carried, start=1)
        ]
        lines.append("")
    lines.append(_totals(recap))
    return "\n".join(lines)
