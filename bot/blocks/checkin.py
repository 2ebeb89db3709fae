"""The weekly check-in DM and the replies to its answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.appreciation import APPRECIATE_PERSON, OPEN_MODAL_ACTION, appreciate_person_value
from bot.blocks.common import Block, actions, button, context, divider, message, plain, section
from bot.blocks.listening import FOLLOWUP_PREFIX, LISTEN_OPEN, followup_value
from bot.services.nudges import Followup, Nudge
from bot.store.models import BuyInGoal
from bot.text import mention, safe_mrkdwn, truncate

GOAL_ACTION = "checkin_goal"
OUTCOME_ACTION_PREFIX = "checkin_outcome_"
PAUSE_ACTION = "checkin_pause"
STOP_ACTION = "checkin_stop"
RESUME_ACTION = "checkin_resume"
# How much of what a colleague said they need a follow-up quotes.
NEED_SHOWN = 200


def goal_block_id(week: str) -> str:
    return f"{GOAL_ACTION}|{week}"


def week_from_block_id(block_id: str) -> str | None:
    name, _, week = block_id.partition("|")
    return week if name == GOAL_ACTION and week else None


def checkin_message(
    week: str,
    last_goal: BuyInGoal | None,
    *,
    followups: Sequence[Followup] = (),
    nudge: Nudge | None = None,
    suggest_listening: bool = False,
) -> dict[str, Any]:
    """The check-in: this week's buy-in goal, last week's, what colleagues said they need
    (`followups`: the person's own /listen answers, for their DM alone), who to thank
    (`nudge`: one person in particular), and a way out.

    `suggest_listening` offers to ask last week's goal what they need."""
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
        if suggest_listening:
            target = last_goal.target_user_id
            blocks.append(
                section(
                    f"Want {mention(target)}'s buy-in? Start by asking what they need.",
                    accessory=button("Ask what they need", LISTEN_OPEN, target),
                )
            )
    for followup in followups:
        blocks += _followup(followup, week)
    if nudge is not None:
        blocks.append(_nudge(nudge))
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


def _followup(followup: Followup, week: str) -> list[Block]:
    need = safe_mrkdwn(truncate(" ".join(followup.need.split()), NEED_SHOWN))
    value = followup_value(followup.listen_id, week)
    return [
        section(
            f"{mention(followup.colleague_id)} told you they need “{need}”. Did you act on it?",
            verbatim=True,
        ),
        actions(
            button("Yes, I did", FOLLOWUP_PREFIX + "yes", value, style="primary"),
            button("Not yet", FOLLOWUP_PREFIX + "not_yet", value),
            button("Skip", FOLLOWUP_PREFIX + "skip", value),
        ),
    ]


def _nudge(nudge: Nudge) -> Block:
    who = mention(nudge.user_id)
    days = nudge.days_since_thanks
    not_since = "yet" if nudge.never_thanked else "in over a year"
    if nudge.kept:
        kept = "a commitment" if nudge.kept == 1 else f"{nudge.kept} commitments"
        if days is None:
            text = f"{who} kept {kept} for you, and you haven't thanked them {not_since}."
        else:
            text = f"{who} kept {kept} for you since you last thanked them, {_ago(days)}."
    else:
        if days is None:
            text = f"You wanted {who}'s buy-in, and you haven't thanked them {not_since}."
        else:
            text = f"You wanted {who}'s buy-in; you last thanked them {_ago(days)}."
        text += " Genuine thanks is the easiest way to win someone over."
    label = f"Appreciate {nudge.name}" if nudge.name else "Appreciate them"
    return section(
        f":raised_hands: {text}",
        accessory=button(
            label, APPRECIATE_PERSON, appreciate_person_value(nudge.user_id, nudge.ask_ids)
        ),
    )


def _ago(days: int) -> str:
    if days < 1:
        return "earlier today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    return f"{days // 7} weeks ago"


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
