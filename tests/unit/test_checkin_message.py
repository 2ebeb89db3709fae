"""The check-in DM with what it may add: follow-ups, a person to thank, asking what they need."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.blocks.appreciation import APPRECIATE_PERSON
from bot.blocks.checkin import NEED_SHOWN, checkin_message
from bot.blocks.listening import FOLLOWUP_PREFIX, LISTEN_OPEN
from bot.services.nudges import Followup, Nudge
from bot.store.models import BuyInGoal
from tests.support.blockkit import assert_valid_message_blocks

WEEK = "2026-W48"
GOAL = BuyInGoal(
    id=7,
    team_id="T1",
    user_id="U1",
    week="2026-W47",
    target_user_id="U2",
    created_at=datetime(2026, 11, 16, tzinfo=UTC),
    updated_at=datetime(2026, 11, 16, tzinfo=UTC),
)


def nudge(**changes: object) -> Nudge:
    values: dict[str, object] = {
        "user_id": "U3",
        "name": "Ana",
        "kept": 2,
        "ask_ids": (4, 9),
        "days_since_thanks": None,
        "never_thanked": True,
    }
    values.update(changes)
    return Nudge(**values)  # type: ignore[arg-type]


def texts(message: dict) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if "text" in b)


def test_everything_at_once_is_valid_block_kit_well_under_the_block_limit() -> None:
    followups = [Followup(1, "U4", "fewer last-minute asks"), Followup(2, "U5", "context")]
    message = checkin_message(
        WEEK, GOAL, followups=followups, nudge=nudge(), suggest_listening=True
    )
    assert_valid_message_blocks(message["blocks"])
    assert len(message["blocks"]) <= 20


def test_without_additions_the_message_is_the_plain_check_in() -> None:
    plain = checkin_message(WEEK, None)
    assert plain == checkin_message(WEEK, None, followups=(), nudge=None)
    for absent in (FOLLOWUP_PREFIX, APPRECIATE_PERSON, LISTEN_OPEN):
        assert absent not in str(plain)


def test_followup_quotes_the_need_escaped_on_one_line_and_verbatim() -> None:
    need = "<!channel> and @here:\nplease   warn me\nearlier & <!subteam^S1|@ops>"
    message = checkin_message(WEEK, None, followups=[Followup(1, "U4", need)])
    [block] = [
        b for b in message["blocks"] if "told you they need" in b.get("text", {}).get("text", "")
    ]
    text = block["text"]["text"]
    assert block["text"]["verbatim"] is True
    assert "<!channel>" not in text and "<!subteam" not in text and "@here" not in text
    assert "please warn me earlier &amp;" in text
    assert text.startswith("<@U4> told you they need “") and text.endswith("”. Did you act on it?")
    assert_valid_message_blocks(message["blocks"])


def test_a_long_need_is_cut() -> None:
    message = checkin_message(WEEK, None, followups=[Followup(1, "U4", "x" * 1000)])
    quoted = texts(message).split("“")[1].split("”")[0]
    assert len(quoted) == NEED_SHOWN and quoted.endswith("…")


@pytest.mark.parametrize(
    ("changes", "wording"),
    [
        ({}, "<@U3> kept 2 commitments for you, and you haven't thanked them yet."),
        (
            {"kept": 1, "ask_ids": (4,), "days_since_thanks": 35},
            "<@U3> kept a commitment for you since you last thanked them, 5 weeks ago.",
        ),
        ({"days_since_thanks": 1}, "since you last thanked them, yesterday."),
        ({"days_since_thanks": 9}, "since you last thanked them, 9 days ago."),
        ({"days_since_thanks": 364}, "since you last thanked them, 52 weeks ago."),
        (
            {"never_thanked": False},
            "<@U3> kept 2 commitments for you, and you haven't thanked them in over a year.",
        ),
        (
            {"kept": 0, "ask_ids": ()},
            "You wanted <@U3>'s buy-in, and you haven't thanked them yet.",
        ),
        (
            {"kept": 0, "ask_ids": (), "days_since_thanks": 21},
            "You wanted <@U3>'s buy-in; you last thanked them 3 weeks ago.",
        ),
    ],
)
def test_nudge_wording(changes: dict[str, object], wording: str) -> None:
    assert wording in texts(checkin_message(WEEK, None, nudge=nudge(**changes)))


def test_nudge_button_opens_the_appreciation_for_them_and_their_commitments() -> None:
    [button] = [
        b["accessory"]
        for b in checkin_message(WEEK, None, nudge=nudge())["blocks"]
        if b.get("accessory", {}).get("action_id") == APPRECIATE_PERSON
    ]
    assert button["value"] == "U3|4,9" and button["text"]["text"] == "Appreciate Ana"
    [nameless] = [
        b["accessory"]
        for b in checkin_message(WEEK, None, nudge=nudge(name=""))["blocks"]
        if b.get("accessory", {}).get("action_id") == APPRECIATE_PERSON
    ]
    assert nameless["text"]["text"] == "Appreciate them"


def test_asking_what_they_need_sits_with_last_weeks_goal() -> None:
    blocks = checkin_message(WEEK, GOAL, suggest_listening=True)["blocks"]
    question = next(i for i, b in enumerate(blocks) if "How did it go" in str(b))
    hint = blocks[question + 2]
    assert hint["text"]["text"] == "Want <@U2>'s buy-in? Start by asking what they need."
    assert hint["accessory"]["action_id"] == LISTEN_OPEN and hint["accessory"]["value"] == "U2"
    assert LISTEN_OPEN not in str(checkin_message(WEEK, GOAL))
