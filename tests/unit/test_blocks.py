"""What appreciation looks like in Slack: valid Block Kit, the right words, nothing that pings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.blocks import appreciation as render
from bot.blocks.common import section
from bot.services.appreciation import MAX_REASON, MAX_RECIPIENTS
from bot.store.models import Appreciation, AppreciationRecipient
from bot.store.queries import Standing
from tests.support.blockkit import (
    assert_valid_home,
    assert_valid_message_blocks,
    assert_valid_modal,
)

COUNTS = {"week": 1, "month": 4, "all": 12}
GIVEN = {"week": 0, "month": 2, "all": 7}


def appreciation(
    *,
    recipients: tuple[str, ...] = ("U2",),
    reason: str = "for untangling the invoice run",
    values: tuple[str, ...] = (),
    is_private: bool = False,
    permalink: str | None = None,
) -> Appreciation:
    return Appreciation(
        giver_id="U1",
        reason=reason,
        company_values=list(values),
        is_private=is_private,
        message_permalink=permalink,
        recipients=[AppreciationRecipient(user_id=u, team_id="T1") for u in recipients],
        team_id="T1",
        source_key="k",
    )


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def block_texts(message: dict[str, Any]) -> str:
    """The mrkdwn people read: section texts and context elements, in order."""
    parts = []
    for block in message["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return "\n".join(parts)


APPRECIATIONS = {
    "plain": appreciation(),
    "two-people": appreciation(recipients=("U2", "U3")),
    "ten-people-values-link": appreciation(
        recipients=tuple(f"U{i}00" for i in range(1, 11)),
        values=("teamwork", "ownership"),
        permalink="https://t.slack.com/archives/C1/p123",
    ),
    "private": appreciation(is_private=True),
    "multiline": appreciation(reason="line one\n\nline three"),
    "longest-reason-all-escaped": appreciation(reason="<&>" * (MAX_REASON // 3)),
    "broadcasts": appreciation(reason="<!channel> <!here|here> <!subteam^S1|@x> @everyone"),
}


@pytest.mark.parametrize("item", APPRECIATIONS.values(), ids=APPRECIATIONS.keys())
def test_channel_message_and_dm_are_valid_message_blocks(item: Appreciation) -> None:
    for message in (render.channel_message(item), render.recipient_dm(item)):
        assert_valid_message_blocks(message["blocks"])
        assert message["text"].strip()


def test_channel_message_names_giver_recipients_reason_and_values() -> None:
    item = appreciation(
        recipients=("U2", "U3", "U4"),
        reason="for the launch & the docs",
        values=("teamwork", "ownership"),
    )
    message = render.channel_message(item)
    text = block_texts(message)
    assert "<@U1> appreciates <@U2>, <@U3> and <@U4>" in text
    assert ">for the launch &amp; the docs" in text
    assert "`#teamwork`" in text and "`#ownership`" in text
    assert message["text"] == "<@U1> appreciates <@U2>, <@U3> and <@U4>"


def test_two_recipients_are_joined_with_and() -> None:
    assert "<@U1> appreciates <@U2> and <@U3>" in block_texts(
        render.channel_message(appreciation(recipients=("U2", "U3")))
    )


def test_channel_message_links_the_message_it_is_about() -> None:
    message = render.channel_message(appreciation(permalink="https://t.slack.com/p1"))
    assert "<https://t.slack.com/p1|for this message>" in block_texts(message)


def test_channel_message_without_values_or_link_has_no_context_block() -> None:
    assert [b["type"] for b in render.channel_message(appreciation())["blocks"]] == ["section"]


def test_every_line_of_the_reason_is_quoted() -> None:
    text = block_texts(render.channel_message(appreciation(reason="one\ntwo\n\nfour")))
    assert text.endswith(">one\n>two\n>\n>four")


def test_reason_with_broadcasts_renders_without_pinging_anyone() -> None:
    item = APPRECIATIONS["broadcasts"]
    for message in (render.channel_message(item), render.recipient_dm(item)):
        rendered = all_text(message)
        assert "<!" not in rendered
        assert "&lt;!channel&gt;" in rendered
        assert "@\u2060everyone" in rendered


def test_reason_is_the_only_user_text_and_is_shown_verbatim() -> None:
    message = render.channel_message(appreciation(reason="see www.example.com"))
    assert message["blocks"][0]["text"]["verbatim"] is True


def test_longest_reason_still_fits_the_section_limit() -> None:
    message = render.channel_message(APPRECIATIONS["longest-reason-all-escaped"])
    assert len(message["blocks"][0]["text"]["text"]) <= 3000


def test_private_dm_says_it_is_private() -> None:
    text = block_texts(render.recipient_dm(appreciation(is_private=True)))
    assert "<@U1> appreciated you (just between you):" in text


def test_public_dm_does_not_claim_to_be_private() -> None:
    text = block_texts(render.recipient_dm(appreciation()))
    assert "<@U1> appreciated you:" in text
    assert "just between you" not in text


def test_dm_to_several_people_names_them_all() -> None:
    text = block_texts(render.recipient_dm(appreciation(recipients=("U2", "U3"))))
    assert "<@U1> appreciated <@U2> and <@U3>:" in text


def test_dm_offers_a_button_to_pass_it_on() -> None:
    blocks = render.recipient_dm(appreciation())["blocks"]
    assert blocks[-1]["type"] == "actions"
    assert blocks[-1]["elements"][0]["action_id"] == render.OPEN_MODAL_ACTION


MODALS: dict[str, dict[str, Any]] = {
    "bare": {"values": (), "metadata": {}},
    "values": {"values": ("teamwork", "ownership"), "metadata": {}},
    "many-long-values": {
        "values": tuple(f"value-{i}-" + "x" * 200 for i in range(120)),
        "metadata": {},
    },
    "recipients": {"values": (), "metadata": {}, "recipients": ["U2", "U3"]},
    "channel": {"values": (), "metadata": {"channel_id": "C1"}, "channel_id": "C1"},
    "linked-text": {
        "values": ("teamwork",),
        "metadata": {"channel_id": "C1", "message_ts": "1.2", "permalink": "https://x.y/p1"},
        "recipients": ["U2"],
        "channel_id": "C1",
        "linked_text": "For this message: <!here> the release <@U222|ana> shipped & <https://x.y|notes>",
    },
}


@pytest.mark.parametrize("kwargs", MODALS.values(), ids=MODALS.keys())
def test_modal_is_a_valid_view(kwargs: dict[str, Any]) -> None:
    view = render.modal(**kwargs)
    assert_valid_modal(view)
    assert view["callback_id"] == render.MODAL_CALLBACK
    assert json.loads(view["private_metadata"]) == kwargs["metadata"]


def modal_inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def test_modal_asks_for_values_only_when_there_are_values() -> None:
    assert "values" not in modal_inputs(render.modal(values=(), metadata={}))
    element = modal_inputs(render.modal(values=("teamwork", "ownership"), metadata={}))["values"]
    assert [o["value"] for o in element["options"]] == ["teamwork", "ownership"]
    assert [o["text"]["text"] for o in element["options"]] == ["#teamwork", "#ownership"]


def test_modal_prefills_recipients_and_channel() -> None:
    inputs = modal_inputs(render.modal(values=(), metadata={}, recipients=["U2"], channel_id="C1"))
    assert inputs["recipients"]["initial_users"] == ["U2"]
    assert inputs["channel"]["initial_conversation"] == "C1"
    bare = modal_inputs(render.modal(values=(), metadata={}))
    assert "initial_users" not in bare["recipients"]
    assert "initial_conversation" not in bare["channel"]


def test_modal_caps_recipients_and_reason_like_the_rules() -> None:
    inputs = modal_inputs(render.modal(values=(), metadata={}))
    assert inputs["recipients"]["max_selected_items"] == MAX_RECIPIENTS
    assert inputs["reason"]["max_length"] == MAX_REASON


def test_modal_shows_linked_text_without_pinging_anyone() -> None:
    view = render.modal(**MODALS["linked-text"])
    first = view["blocks"][0]
    assert first["type"] == "context"
    shown = first["elements"][0]["text"]
    assert shown == (
        "For this message: &lt;!here&gt; the release <@U222|ana> shipped &amp; <https://x.y|notes>"
    )
    assert "<!" not in all_text(view)


def test_home_view_is_valid_and_shows_the_numbers() -> None:
    from bot.blocks.home import HomeData, home_view

    view = home_view(HomeData("U1", COUNTS, GIVEN))
    assert_valid_home(view)
    text = all_text(view)
    assert "this week *1* · this month *4* · all time *12*" in text
    assert "this week *0* · this month *2* · all time *7*" in text


@pytest.mark.parametrize(
    "text",
    [
        render.help_message(()),
        render.help_message(("teamwork", "ownership")),
        render.stats_message("U1", COUNTS, GIVEN),
        render.top_message("week", []),
        render.top_message("all", [Standing("U2", 5, 3)] * 10),
    ],
    ids=["help", "help-values", "stats", "top-empty", "top-ten"],
)
def test_text_replies_fit_in_a_valid_section(text: str) -> None:
    assert len(text) <= 3000
    assert_valid_message_blocks([section(text)])


def test_help_lists_the_company_values_only_when_configured() -> None:
    assert "Company values: `#teamwork`, `#ownership`" in render.help_message(
        ("teamwork", "ownership")
    )
    assert "Company values" not in render.help_message(())


def test_stats_message_names_the_person_and_both_directions() -> None:
    text = render.stats_message("U9", COUNTS, GIVEN)
    assert text.splitlines() == [
        "*Appreciation for <@U9>*",
        ":inbox_tray: Received: this week *1* · this month *4* · all time *12*",
        ":outbox_tray: Given: this week *0* · this month *2* · all time *7*",
    ]


@pytest.mark.parametrize(
    ("period", "label"), [("week", "this week"), ("month", "this month"), ("all", "of all time")]
)
def test_top_message_ranks_people_with_their_givers(period: str, label: str) -> None:
    text = render.top_message(period, [Standing("U2", 5, 3), Standing("U3", 1, 1)])
    assert text.splitlines() == [
        f"*Most appreciated {label}*",
        "1. <@U2>: 5 from 3 people",
        "2. <@U3>: 1 from 1 person",
    ]


def test_top_message_with_nobody_invites_a_first_appreciation() -> None:
    assert render.top_message("month", []).startswith("No public appreciation this month yet.")


SUMMARIES = [
    pytest.param(
        {"posted_in": "C1", "post_problem": None, "pending": False, "is_private": False},
        "Shared in <#C1>, and <@U2> and <@U3> got it by DM.",
        id="posted",
    ),
    pytest.param(
        {
            "posted_in": None,
            "post_problem": "I couldn't post.",
            "pending": False,
            "is_private": False,
        },
        "I couldn't post. <@U2> and <@U3> still got it by DM.",
        id="problem",
    ),
    pytest.param(
        {"posted_in": None, "post_problem": None, "pending": False, "is_private": True},
        "It stays private: only they got it, by DM.",
        id="private",
    ),
    pytest.param(
        {"posted_in": "C1", "post_problem": None, "pending": False, "is_private": True},
        "It stays private: only they got it, by DM.",
        id="private-wins-over-posted",
    ),
    pytest.param(
        {"posted_in": None, "post_problem": None, "pending": False, "is_private": False},
        "No channel was chosen, so <@U2> and <@U3> got it by DM only.",
        id="no-channel",
    ),
]


@pytest.mark.parametrize(("kwargs", "second_line"), SUMMARIES)
def test_recorded_summary_says_what_was_shared_and_where(
    kwargs: dict[str, Any], second_line: str
) -> None:
    lines = render.recorded_summary(["U2", "U3"], **kwargs).splitlines()
    assert lines == [
        ":white_check_mark: Your appreciation for <@U2> and <@U3> is recorded.",
        second_line,
    ]


def test_recorded_summary_says_when_messages_are_still_pending() -> None:
    text = render.recorded_summary(
        ["U2"], posted_in="C1", post_problem=None, pending=True, is_private=False
    )
    assert text.splitlines()[-1] == (
        "Slack is slow to answer right now; the rest will follow in a moment."
    )
    assert len(text.splitlines()) == 3
