"""The rules for `/appreciate` text and drafts, which need no database and no Slack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import PersonInfo
from bot.errors import UserError
from bot.services.appreciation import (
    MAX_REASON,
    MAX_RECIPIENTS,
    Draft,
    check_draft,
    check_recipients,
    parse_command_text,
    period_start,
    start_of_local_day,
)

VALUES = ("teamwork", "ownership")


@pytest.mark.parametrize(
    ("text", "values", "recipients", "reason", "found"),
    [
        pytest.param("<@U123> for the launch", VALUES, ["U123"], "for the launch", [], id="one"),
        pytest.param(
            "<@U123|ana> for the launch", VALUES, ["U123"], "for the launch", [], id="one-labelled"
        ),
        pytest.param(
            "<@U123|ana> <@W456> <@U789|cy> for the launch",
            (),
            ["U123", "W456", "U789"],
            "for the launch",
            [],
            id="several-mixed-labels",
        ),
        pytest.param("<@U123><@U456>thanks", (), ["U123", "U456"], "thanks", [], id="no-spaces"),
        pytest.param(
            "<@U123> <@U123|ana> <@U456> <@U123> thanks",
            (),
            ["U123", "U456"],
            "thanks",
            [],
            id="duplicates-collapsed-in-order",
        ),
        pytest.param(
            "  <@U123>   for   the\n launch\t ", (), ["U123"], "for the launch", [], id="spaces"
        ),
        pytest.param(
            "<@U123> thanks, and <@U456> too",
            VALUES,
            ["U123"],
            "thanks, and <@U456> too",
            [],
            id="later-mention-stays-in-reason",
        ),
        pytest.param(
            "<@U123> for warning <!channel> early",
            VALUES,
            ["U123"],
            "for warning <!channel> early",
            [],
            id="later-broadcast-stays-in-reason",
        ),
        pytest.param(
            "<@U123> for the launch #TeamWork",
            VALUES,
            ["U123"],
            "for the launch",
            ["teamwork"],
            id="value-case-insensitive-and-removed",
        ),
        pytest.param(
            "<@U123> #ownership of the launch #teamwork #OWNERSHIP",
            VALUES,
            ["U123"],
            "of the launch",
            ["ownership", "teamwork"],
            id="several-values-deduplicated-in-order",
        ),
        pytest.param(
            "<@U123> for #teamwork.",
            VALUES,
            ["U123"],
            "for .",
            ["teamwork"],
            id="value-before-punctuation",
        ),
        pytest.param(
            "<@U123> for #teamwork and #speed",
            (),
            ["U123"],
            "for #teamwork and #speed",
            [],
            id="no-values-configured-words-kept",
        ),
        pytest.param(
            "<@U123> our #1 fan, R&amp;D#teamwork",
            VALUES,
            ["U123"],
            "our #1 fan, R&amp;D#teamwork",
            [],
            id="not-tags-number-or-inside-word",
        ),
        pytest.param(
            "<@U123> you don&#x27;t stop",
            VALUES,
            ["U123"],
            "you don&#x27;t stop",
            [],
            id="not-a-tag-in-an-html-entity",
        ),
    ],
)
def test_command_text_is_split_into_people_reason_and_values(
    text: str, values: tuple[str, ...], recipients: list[str], reason: str, found: list[str]
) -> None:
    parsed = parse_command_text(text, values)
    assert parsed.recipient_ids == recipients
    assert parsed.reason == reason
    assert parsed.values == found


def test_unknown_value_is_refused_with_the_list_of_values() -> None:
    with pytest.raises(UserError) as refused:
        parse_command_text("<@U123> for the launch #Speed", VALUES)
    assert (
        refused.value.message == "#Speed isn't one of your company values (#teamwork, #ownership)."
    )


@pytest.mark.parametrize(
    "text",
    [
        "<!subteam^S123|@design> for the launch",
        "<!subteam^S123> for the launch",
        "<!here> for the launch",
        "<!here|here> for the launch",
        "<!channel> for the launch",
        "<!everyone> for the launch",
        "<@U123> <!here> for the launch",
        "<@U123> <!subteam^S1|@x> for the launch",
        "<@u123> lowercase is no person id",
        "<@B123> bots have B ids",
    ],
)
def test_group_or_broadcast_mention_as_recipient_is_refused(text: str) -> None:
    with pytest.raises(UserError, match="people, not to groups or whole channels"):
        parse_command_text(text, VALUES)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "for the launch",
        "thanks <@U123> for the launch",
        "@ana for the launch",
        "<#C123|general> for the launch",
        "<https://example.com> for the launch",
    ],
)
def test_text_without_a_leading_person_is_refused(text: str) -> None:
    with pytest.raises(UserError, match="Who would you like to appreciate"):
        parse_command_text(text, VALUES)


def test_channel_mention_in_the_reason_is_not_taken_for_a_value() -> None:
    parsed = parse_command_text("<@U123> for the help in <#C0123ABC|support>", VALUES)
    assert parsed.reason == "for the help in <#C0123ABC|support>"
    assert parsed.values == []


def test_url_fragment_in_the_reason_is_not_taken_for_a_value() -> None:
    parsed = parse_command_text("<@U123> for <https://x.y/docs/#install>", VALUES)
    assert parsed.reason == "for <https://x.y/docs/#install>"


def draft(**changes: object) -> Draft:
    fields: dict[str, object] = {"giver_id": "U1", "recipient_ids": ["U2"], "reason": "for X"}
    fields.update(changes)
    return Draft(**fields)  # type: ignore[arg-type]


def many(n: int) -> list[str]:
    return [f"U{i:03d}" for i in range(100, 100 + n)]


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        pytest.param({"recipient_ids": []}, "recipients", "at least one person", id="nobody"),
        pytest.param({"recipient_ids": ["U1"]}, "recipients", "yourself", id="self"),
        pytest.param({"recipient_ids": ["U2", "U1"]}, "recipients", "yourself", id="self-among"),
        pytest.param(
            {"recipient_ids": many(MAX_RECIPIENTS + 1)},
            "recipients",
            "That's 11 people",
            id="eleven",
        ),
        pytest.param({"reason": ""}, "reason", "Say what they did", id="empty-reason"),
        pytest.param({"reason": " \n\t "}, "reason", "Say what they did", id="blank-reason"),
        pytest.param(
            {"reason": "x" * (MAX_REASON + 1)}, "reason", "is 1,001 characters", id="1001-chars"
        ),
    ],
)
def test_draft_breaking_a_rule_is_refused_naming_the_field(
    changes: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(UserError) as refused:
        check_draft(draft(**changes))
    assert refused.value.field == field
    assert says in refused.value.message


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="plain"),
        pytest.param({"recipient_ids": many(MAX_RECIPIENTS)}, id="ten-people"),
        pytest.param({"reason": "x" * MAX_REASON}, id="1000-chars"),
    ],
)
def test_draft_within_the_rules_is_accepted(changes: dict[str, object]) -> None:
    check_draft(draft(**changes))


def test_rule_limits_are_the_documented_ones() -> None:
    assert (MAX_RECIPIENTS, MAX_REASON) == (10, 1000)


@pytest.mark.parametrize(
    ("person", "says"),
    [
        (None, "couldn't find <@U3>"),
        (PersonInfo(user_id="U3", is_bot=True), "<@U3> is a bot"),
        (PersonInfo(user_id="U3", deleted=True), "<@U3> is no longer active"),
    ],
)
def test_recipient_who_is_unknown_a_bot_or_gone_is_refused(
    person: PersonInfo | None, says: str
) -> None:
    with pytest.raises(UserError) as refused:
        check_recipients([PersonInfo(user_id="U2"), person], ["U2", "U3"])
    assert says in refused.value.message
    assert refused.value.field == "recipients"


def test_active_human_recipients_are_accepted() -> None:
    check_recipients([PersonInfo(user_id="U2"), PersonInfo(user_id="U3")], ["U2", "U3"])


NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("tz", "fallback", "expected"),
    [
        ("Asia/Tokyo", "UTC", "2026-11-26T00:00:00+09:00"),
        ("America/New_York", "UTC", "2026-11-25T00:00:00-05:00"),
        (None, "Pacific/Kiritimati", "2026-11-26T00:00:00+14:00"),
        ("Not/AZone", "Asia/Tokyo", "2026-11-26T00:00:00+09:00"),
        (None, "", "2026-11-25T00:00:00+00:00"),
    ],
)
def test_start_of_local_day_is_midnight_in_the_persons_zone(
    tz: str | None, fallback: str, expected: str
) -> None:
    person = PersonInfo(user_id="U1", tz=tz)
    assert start_of_local_day(NOW, person, fallback).isoformat() == expected


@pytest.mark.parametrize(
    ("period", "now", "zone", "expected"),
    [
        ("week", NOW, "UTC", "2026-11-23T00:00:00+00:00"),
        ("month", NOW, "UTC", "2026-11-01T00:00:00+00:00"),
        # Late on Sunday 30 November in UTC is already Monday 1 December in Auckland.
        (
            "week",
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            "Pacific/Auckland",
            "2026-11-30T00:00:00+13:00",
        ),
        (
            "month",
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            "Pacific/Auckland",
            "2026-12-01T00:00:00+13:00",
        ),
        (
            "week",
            datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
            "America/Los_Angeles",
            "2026-11-16T00:00:00-08:00",
        ),
    ],
)
def test_period_start_is_monday_or_first_of_month_in_the_zone(
    period: str, now: datetime, zone: str, expected: str
) -> None:
    start = period_start(period, now, zone)
    assert start is not None
    assert start.isoformat() == expected


def test_period_all_has_no_start() -> None:
    assert period_start("all", NOW, "UTC") is None


def test_people_listed_with_commas_and_and_are_all_recipients() -> None:
    parsed = parse_command_text("<@U01>, <@U02|bo> and <@U03> &amp; <@U04> for the launch", ())
    assert parsed.recipient_ids == ["U01", "U02", "U03", "U04"]
    assert parsed.reason == "for the launch"
