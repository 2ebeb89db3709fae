"""How the Home words a colleague's line in "your people"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks.home import HomeData, home_view
from bot.services.relationships import Colleague
from tests.support.blockkit import assert_valid_home

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
COUNTS = {"week": 0, "month": 0, "all": 0}


def line(colleague: Colleague, now: datetime | None = NOW) -> str:
    view = home_view(HomeData("U1", COUNTS, COUNTS, people=[colleague], now=now))
    assert_valid_home(view)
    [text] = [
        b["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith(f"<@{colleague.user_id}>")
    ]
    return str(text)


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(hours=3), "today"),
        (timedelta(days=1, hours=2), "yesterday"),
        (timedelta(days=13), "13 days ago"),
        (timedelta(days=14), "2 weeks ago"),
        (timedelta(days=36), "5 weeks ago"),
        (timedelta(days=65), "2 months ago"),
        (timedelta(days=364), "12 months ago"),
        (timedelta(days=400), "a year ago"),
        (timedelta(days=800), "2 years ago"),
        (-timedelta(minutes=5), "today"),  # a clock a little behind the database's
    ],
)
def test_when_you_last_thanked_someone_is_said_relative_to_now(ago: timedelta, said: str) -> None:
    colleague = Colleague("U2", 5, 0, 1, NOW - ago)

    assert line(colleague).startswith(f"<@U2> · last thanked {said}\n")


def test_counts_are_worded_for_none_one_and_many() -> None:
    assert "no commitments kept for you · 1 appreciation from you" in line(
        Colleague("U2", 5, 0, 1, NOW)
    )
    assert "1 commitment kept for you · 1,200 appreciations from you" in line(
        Colleague("U2", 5, 1, 1200, NOW)
    )


def test_without_a_now_dates_are_shown_as_dates() -> None:
    colleague = Colleague("U2", 5, 0, 1, datetime(2026, 3, 4, tzinfo=UTC))

    assert line(colleague, now=None).startswith("<@U2> · last thanked on 4 March 2026\n")
