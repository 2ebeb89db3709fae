"""Ask reminders through the scheduled work: each once, in each person's own timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.blocks.digest import digest_message
from bot.domain import PersonInfo, Workspace
from bot.jobs.tick import tick
from bot.runtime import Runtime
from bot.services import asks, digest, workspaces
from bot.services.settings import for_workspace
from bot.slack import people
from tests.conftest import MovableClock
from tests.support.blockkit import assert_valid_message_blocks
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
ASKER, HELPER = "UNYC", "UTOK"  # asker in New York, helper in Tokyo


@pytest.fixture
def setup(runtime: Runtime, slack: FakeSlack, clock: MovableClock) -> Runtime:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    slack.add_user(ASKER, tz="America/New_York")
    slack.add_user(HELPER, tz="Asia/Tokyo")
    people.remember(
        runtime.db,
        WS,
        [PersonInfo(ASKER, tz="America/New_York"), PersonInfo(HELPER, tz="Asia/Tokyo")],
        clock(),
    )
    return runtime


def make_ask(runtime: Runtime, created: datetime, due: date | None) -> int:
    ask, _ = asks.start(
        runtime.db,
        WS,
        asker_id=ASKER,
        helper_id=HELPER,
        request="the Q4 forecast",
        channel_id="C111",
        due_on=due,
        timezone="America/New_York",
        source_key="k",
        now=created,
        thread_ts="1764000000.000100",
    )
    return ask.id


def dms(slack: FakeSlack, user: str, word: str) -> list[dict]:
    return [m for m in slack.messages(user) if word in m["text"]]


def run_until(runtime: Runtime, clock: MovableClock, start: datetime, end: datetime) -> None:
    clock.now = start
    while clock.now <= end:
        tick(runtime)
        clock.now += timedelta(minutes=30)


def test_helper_is_reminded_on_the_morning_of_the_due_day_in_their_timezone(
    setup: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ask_id = make_ask(setup, datetime(2026, 11, 30, 15, tzinfo=UTC), date(2026, 12, 3))
    asks.apply(setup.db, WS, ask_id, HELPER, "commit", datetime(2026, 11, 30, 16, tzinfo=UTC))

    # 09:00 on Thursday 3 December in Tokyo is 00:00 UTC that day.
    run_until(
        setup, clock, datetime(2026, 12, 2, 20, tzinfo=UTC), datetime(2026, 12, 3, 1, tzinfo=UTC)
    )
    sent = dms(slack, HELPER, "Due today")
    assert len(sent) == 1
    assert_valid_message_blocks(sent[0]["blocks"])
    # A first DM goes to the user id: Slack opens the DM itself, no conversations.open.
    first = slack.calls_to("chat.postMessage")[0]
    assert first.params["channel"] == HELPER
    assert slack.calls_to("conversations.open") == []


def test_overdue_reminds_both_once_after_the_day_ends_for_the_asker(
    setup: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ask_id = make_ask(setup, datetime(2026, 11, 30, 15, tzinfo=UTC), date(2026, 12, 3))
    asks.apply(setup.db, WS, ask_id, HELPER, "commit", datetime(2026, 11, 30, 16, tzinfo=UTC))

    # The 3rd ends in New York at 05:00 UTC on the 4th.
    run_until(
        setup, clock, datetime(2026, 12, 4, 3, tzinfo=UTC), datetime(2026, 12, 4, 4, 30, tzinfo=UTC)
    )
    assert dms(slack, ASKER, "past due") == []
    run_until(
        setup, clock, datetime(2026, 12, 4, 5, tzinfo=UTC), datetime(2026, 12, 5, 5, tzinfo=UTC)
    )
    assert len(dms(slack, HELPER, "past due")) == 1
    assert len(dms(slack, ASKER, "past due")) == 1


def test_done_asks_get_no_more_reminders(
    setup: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ask_id = make_ask(setup, datetime(2026, 11, 30, 15, tzinfo=UTC), date(2026, 12, 3))
    asks.apply(setup.db, WS, ask_id, HELPER, "done", datetime(2026, 12, 1, tzinfo=UTC))
    run_until(
        setup, clock, datetime(2026, 12, 2, 20, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    )
    assert slack.messages(HELPER) == [] and slack.messages(ASKER) == []


def test_asker_hears_once_when_the_helper_has_not_answered_for_two_working_days(
    setup: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    # Asked on Friday afternoon in New York: two working days end on Tuesday afternoon.
    make_ask(setup, datetime(2026, 11, 27, 20, tzinfo=UTC), None)
    run_until(
        setup,
        clock,
        datetime(2026, 11, 30, 20, tzinfo=UTC),
        datetime(2026, 12, 1, 19, 30, tzinfo=UTC),
    )
    assert dms(slack, ASKER, "hasn't answered") == []
    run_until(
        setup, clock, datetime(2026, 12, 1, 20, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    )
    assert len(dms(slack, ASKER, "hasn't answered")) == 1


def test_digest_counts_commitments_kept_on_time(setup: Runtime, clock: MovableClock) -> None:
    from bot.services import appreciation

    on_time = make_ask(setup, datetime(2026, 11, 23, 15, tzinfo=UTC), date(2026, 11, 25))
    asks.apply(setup.db, WS, on_time, HELPER, "done", datetime(2026, 11, 25, 20, tzinfo=UTC))
    late, _ = asks.start(
        setup.db,
        WS,
        asker_id=ASKER,
        helper_id=HELPER,
        request="late one",
        channel_id="C111",
        due_on=date(2026, 11, 24),
        timezone="America/New_York",
        source_key="k2",
        now=datetime(2026, 11, 23, 15, tzinfo=UTC),
    )
    asks.apply(setup.db, WS, late.id, HELPER, "done", datetime(2026, 11, 26, 20, tzinfo=UTC))
    draft = appreciation.Draft(ASKER, [HELPER], "thanks", source_key="a1")
    appreciation.record(
        setup.db,
        WS,
        draft,
        PersonInfo(ASKER),
        datetime(2026, 11, 25, 21, tzinfo=UTC),
        daily_limit=10,
    )

    config = for_workspace(setup.db, WS, setup.settings)
    week = digest.window(setup.db, WS, "2026-W48", config)
    built = digest.build(setup.db, WS, week, config.timezone)
    assert built is not None and built.commitments_kept == 1
    assert built.commitments_thanked == 0
    # Thanked through the ask (by someone else first, which does not count): counted.
    for giver, key in ((HELPER, "a2"), (ASKER, "a3")):
        thanks = appreciation.Draft(giver, [HELPER if giver == ASKER else ASKER], "thanks")
        thanks.ask_id, thanks.source_key = on_time, key
        appreciation.record(
            setup.db,
            WS,
            thanks,
            PersonInfo(giver),
            datetime(2026, 11, 26, tzinfo=UTC),
            daily_limit=10,
        )
        built = digest.build(setup.db, WS, week, config.timezone)
        assert built is not None
        assert built.commitments_thanked == (1 if giver == ASKER else 0)
    assert "1 commitment kept on time, 1 of them thanked" in str(digest_message(built))
