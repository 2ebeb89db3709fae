"""/listen's rules: who can be asked, how many, and what the command text means."""

from __future__ import annotations

import pytest

from bot.blocks import listening as render
from bot.domain import PersonInfo
from bot.errors import UserError
from bot.services import listening
from bot.store.models import Listen
from tests.support.blockkit import assert_valid_message_blocks, assert_valid_modal


def test_mentions_then_what_it_is_about() -> None:
    request = listening.parse("<@U222|ana> <@U333>   about  the quarterly close ")
    assert request == listening.Request(["U222", "U333"], "about the quarterly close")
    assert listening.parse("<@U222> <@U222>") == listening.Request(["U222"], None)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "Whose needs do you want to hear?"),
        ("about the close", "Whose needs do you want to hear?"),
        ("<!channel> about the close", "not a group or a whole channel"),
        ("<!here>", "not a group or a whole channel"),
        ("<@U222> <!subteam^S1|@sales>", "not a group or a whole channel"),
        (" ".join(f"<@U90{n}>" for n in range(6)), "at most 5 at once"),
        ("<@U222> " + "x" * 301, "under 300 characters"),
    ],
)
def test_refused_texts(text: str, said: str) -> None:
    with pytest.raises(UserError, match=said):
        listening.parse(text)


def person(user_id: str, **flags: bool) -> PersonInfo:
    return PersonInfo(user_id=user_id, tz="UTC", **flags)


@pytest.mark.parametrize(
    ("colleagues", "said"),
    [
        (["U222", "U111"], "You can't ask yourself"),
        (["UBOT"], "is a bot"),
        (["UGONE"], "no longer active"),
        (["U222", "U404"], "couldn't find <@U404>"),
    ],
)
def test_refused_people(colleagues: list[str], said: str) -> None:
    known = {
        "U111": person("U111"),
        "U222": person("U222"),
        "UBOT": person("UBOT", is_bot=True),
        "UGONE": person("UGONE", deleted=True),
    }
    with pytest.raises(UserError, match=said):
        listening.check_people("U111", colleagues, known.get)


def test_every_message_and_form_is_valid_block_kit() -> None:
    listen = Listen(
        id=7,
        asker_id="U111",
        colleague_id="U222",
        topic="the close",
        status="answered",
        need="Numbers by the 3rd",
        obstacle=None,
        preference="A DM, not a ticket",
    )
    for message in (
        render.question(listen),
        render.answered(listen),
        render.declined(listen),
        render.will_act_told(listen),
        render.acted_told(listen),
    ):
        assert_valid_message_blocks(message["blocks"])
    assert_valid_modal(render.answer_modal(listen, "https://hooks.example/1"))
    assert_valid_modal(render.listen_modal(["U222"]))
    assert "gets in their way" not in str(render.answered(listen))  # nothing said, nothing shown


def test_followup_values_round_trip() -> None:
    assert render.from_followup_value(render.followup_value(12, "2026-W49")) == (12, "2026-W49")
    assert render.from_followup_value("x|2026-W49") is None
    assert render.from_followup_value("12") is None
