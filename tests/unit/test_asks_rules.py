"""The ask state machine, roles, and the date phrases people type."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UserError
from bot.jobs.asks import add_working_days
from bot.listeners.asks import parse_ask_text
from bot.services.asks import TRANSITIONS, check_role, describe_status, next_status
from bot.services.dates import parse_due, split_due
from bot.store.models import Ask, Obstacle

STATES = ["asked", "discussing", "committed", "done", "declined", "cancelled"]
ALLOWED = {
    ("asked", "commit"): "committed",
    ("asked", "discuss"): "discussing",
    ("asked", "decline"): "declined",
    ("asked", "done"): "done",
    ("asked", "cancel"): "cancelled",
    ("discussing", "commit"): "committed",
    ("discussing", "decline"): "declined",
    ("discussing", "done"): "done",
    ("discussing", "cancel"): "cancelled",
    ("committed", "done"): "done",
    ("committed", "cancel"): "cancelled",
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", sorted(TRANSITIONS))
def test_state_machine_allows_exactly_the_listed_transitions(state: str, event: str) -> None:
    assert next_status(state, event) == ALLOWED.get((state, event))


@pytest.mark.parametrize("state", ["done", "declined", "cancelled"])
def test_closed_asks_never_change(state: str) -> None:
    assert all(next_status(state, event) is None for event in TRANSITIONS)


def make_ask(**kw: object) -> Ask:
    values: dict[str, object] = dict(asker_id="UA", helper_id="UH", status="asked", obstacles=[])
    values.update(kw)
    return Ask(**values)


def test_helper_answers_helper_questions_and_asker_acts_for_the_asker() -> None:
    ask = make_ask()
    check_role(ask, "UH", "helper")
    check_role(ask, "UA", "asker")
    with pytest.raises(UserError, match=r"Only <@UH> can answer this\."):
        check_role(ask, "UA", "helper")
    with pytest.raises(UserError, match=r"Only <@UA> can answer this\."):
        check_role(ask, "UX", "asker")


def test_status_shows_an_open_obstacle_over_the_commitment() -> None:
    ask = make_ask(status="committed", committed_on=date(2026, 12, 4))
    assert describe_status(ask) == "committed by Fri 4 Dec"
    ask.obstacles = [Obstacle(status="open")]
    assert describe_status(ask) == "obstacle open"
    ask.obstacles = [Obstacle(status="resolved")]
    assert describe_status(ask) == "committed by Fri 4 Dec"
    assert describe_status(make_ask(status="discussing")) == "needs a conversation"


# Friday 27 November 2026, 15:00 UTC: 10:00 in New York, Friday there too.
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Friday", date(2026, 11, 27)),
        ("friday", date(2026, 11, 27)),
        ("fri", date(2026, 11, 27)),
        ("next Friday", date(2026, 12, 4)),
        ("Monday", date(2026, 11, 30)),
        ("tomorrow", date(2026, 11, 28)),
        ("today", date(2026, 11, 27)),
        ("EOD", date(2026, 11, 27)),
        ("eod", date(2026, 11, 27)),
        ("end of week", date(2026, 11, 27)),
        ("next week", date(2026, 11, 30)),
        ("Dec 4", date(2026, 12, 4)),
        ("dec 4th", date(2026, 12, 4)),
        ("December 4", date(2026, 12, 4)),
        ("4 Dec", date(2026, 12, 4)),
        ("Dec 4, 2027", date(2027, 12, 4)),
        ("2026-12-04", date(2026, 12, 4)),
        ("in 3 days", date(2026, 11, 30)),
        ("in 2 weeks", date(2026, 12, 11)),
        ("Jan 15", date(2027, 1, 15)),
        ("the 12th", date(2026, 12, 12)),
        ("12th", date(2026, 12, 12)),
        ("the twelfth", date(2026, 12, 12)),
        ("twenty-first", date(2026, 12, 21)),
        ("the 30th", date(2026, 11, 30)),
        ("the 27th", date(2026, 11, 27)),
        ("the 26th", date(2026, 12, 26)),
    ],
)
def test_date_phrases_people_type(phrase: str, expected: date) -> None:
    assert parse_due(phrase, NOW, NEW_YORK) == expected


def test_dates_are_read_in_the_askers_timezone() -> None:
    # 15:00 UTC Friday is already Saturday 00:00 in Tokyo.
    assert parse_due("tomorrow", NOW, ZoneInfo("Asia/Tokyo")) == date(2026, 11, 29)
    assert parse_due("tomorrow", NOW, NEW_YORK) == date(2026, 11, 28)


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("2026-11-20", "has already passed"),
        ("Nov 20", "has already passed"),
        ("yesterday-ish", "couldn't read"),
        ("2026-02-30", "couldn't read"),
        ("the summit", "couldn't read"),
        ("12/4", "couldn't read"),
        ("4.12", "couldn't read"),
        ("the second reviewer", 'say it without "by"'),
        ("Friday week", "couldn't read"),
    ],
)
def test_past_or_unreadable_dates_are_refused_clearly(phrase: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_due(phrase, NOW, NEW_YORK)


@pytest.mark.parametrize("typed", ["2026-13-45<!channel>", "<!subteam^S1|@team> soon", "@here"])
def test_an_unreadable_date_is_quoted_back_without_pinging_anyone(typed: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_due(typed, NOW, NEW_YORK)
    said = str(refused.value)
    assert "couldn't read" in said
    assert "<!" not in said and "@here" not in said


@pytest.mark.parametrize(
    ("text", "request_text", "when"),
    [
        ("review the deck by Friday", "review the deck", "Friday"),
        ("review the deck prepared by marketing", "review the deck prepared by marketing", None),
        ("send it by 2026-12-04", "send it", "2026-12-04"),
        ("send it by EOD", "send it", "EOD"),
        ("send it", "send it", None),
        ("send it by the twelfth", "send it", "the twelfth"),
        ("send it by the 12th", "send it", "the 12th"),
        ("send it by 12/4", "send it", "12/4"),
        ("send it by 4.12", "send it", "4.12"),
        ("send it by 12-04", "send it", "12-04"),
        ("send it by end of March", "send it", "end of March"),
        ("send it by next Tuesday", "send it", "next Tuesday"),
        ("send it by in 3 days", "send it", "in 3 days"),
        ("checked by the people in sales", "checked by the people in sales", None),
    ],
)
def test_trailing_by_is_a_date_only_when_it_looks_like_one(
    text: str, request_text: str, when: str | None
) -> None:
    assert split_due(text) == (request_text, when)


def test_ask_text_names_one_person_first() -> None:
    assert parse_ask_text("<@U0AB|ana> review it by Friday") == ("U0AB", "review it", "Friday")
    with pytest.raises(UserError, match="not a group"):
        parse_ask_text("<!here> review it")
    with pytest.raises(UserError, match="Who are you asking"):
        parse_ask_text("review it")


def test_two_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert add_working_days(friday, 2, NEW_YORK).date() == date(2026, 12, 1)
    tuesday = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert add_working_days(tuesday, 2, NEW_YORK).date() == date(2026, 11, 26)
