"""The weekly check-in DM and the replies to its answers."""

from __future__ import annotations

from typing import Any

from bot.blocks.appreciation import OPEN_MODAL_ACTION
from bot.blocks.common import Block, actions, button, context, divider, message, plain, section
from bot.store.models import BuyInGoal
from bot.text import mention

GOAL_ACTION = "checkin_goal"
OUTCOME_ACTION_PREFIX = "checkin_outcome_"
PAUSE_ACTION = "checkin_pause"
STOP_ACTION = "checkin_stop"
RESUME_ACTION = "checkin_resume"


def goal_block_id(week: str) -> str:
    return f"{GOAL_ACTION}|{week}"


def week_from_block_id(block_id: str) -> str | None:
    name, _, week = block_id.partition("|")
    return week if name == GOAL_ACTION and week else None


def checkin_message(week: str, last_goal: BuyInGoal | None) -> dict[str, Any]:
    """The check-in: this week's buy-in goal, last week's, who to thank, and a way out."""
    blocks: list[Block] = [
        section(":wave: *Your weekly check-in.* A minute for the colleagues your work depends on."),
        {
            "type": "section",
            "block_id": goal_block_id(week),
            "text": {
                "type": "mrkdwn",
                "text": "*Who is one person whose buy-in you want this week?*\n"
                "Someone in operations, support, marketing, finance, or your own manager.",
            },
            "accessory": {
                "type": "users_select",
                "action_id": GOAL_ACTION,
                "placeholder": plain("Choose a person"),
            },
        },
    ]
    if last_goal is not None:
        value = str(last_goal.id)
        blocks += [
            section(f"*How did it go with {mention(last_goal.target_user_id)}?*"),
            actions(
                button("Won them over", OUTCOME_ACTION_PREFIX + "won", value, style="primary"),
                button("Still working on it", OUTCOME_ACTION_PREFIX + "working", value),
                button("Skip", OUTCOME_ACTION_PREFIX + "skipped", value),
            ),
        ]
    blocks += [
        section(
            "*Who helped you this week?* Thank them while it's fresh: specific thanks "
            "turn colleagues into advocates.",
            accessory=button("Appreciate someone", OPEN_MODAL_ACTION),
        ),
        divider(),
        actions(
            button("Pause for 4 weeks", PAUSE_ACTION, week),
            button("Stop check-ins", STOP_ACTION, week, style="danger"),
        ),
        context("You can turn check-ins back on from my Home tab at any time."),
    ]
    return message("Your weekly check-in: whose buy-in do you want this week?", blocks)


def goal_noted(target: str, before: str | None) -> str:
    if before == target:
        return f"Already noted: your buy-in goal this week is {mention(target)}."
    lead = "Changed" if before else "Noted"
    return (
        f"{lead}: your buy-in goal this week is {mention(target)}. Start today: ask what "
        "they need to serve you better, listen, and show genuine appreciation."
    )


def outcome_noted(target: str, outcome: str) -> str:
    if outcome == "won":
        return f":tada: You won {mention(target)} over. Don't forget to thank them."
    if outcome == "working":
        return f"Keep going with {mention(target)}: ask about obstacles, and ask for a commitment."
    return "Skipped. A new week, a new chance."
