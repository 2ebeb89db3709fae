"""/appreciate through signed HTTP requests, against the fake Slack Web API."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ANA, BEN, GIVER, AppServer
from tests.e2e.helpers import (
    appreciation_count,
    block_text,
    only_appreciation,
    outbox_statuses,
    posts,
    replies,
    wait_reply,
)
from tests.support.fake_slack import FakeSlack


def appreciate(server: AppServer, slack: FakeSlack, text: str, **fields: object) -> int:
    fields.setdefault("user_id", GIVER)
    fields.setdefault("response_url", slack.response_url())
    status, _ = server.client.command(command="/appreciate", text=text, **fields)
    return status


def test_appreciation_is_posted_in_the_channel_and_sent_to_each_recipient(
    server: AppServer, slack: FakeSlack
) -> None:
    status = appreciate(
        server, slack, f"<@{ANA}|ana> <@{BEN}> for untangling the invoice run #teamwork"
    )

    assert status == 200
    summary = wait_reply(slack)
    assert "recorded" in summary and "<#C111>" in summary
    calls = posts(slack)
    # First DMs go to the user ids: Slack opens each DM itself.
    assert sorted(c.params["channel"] for c in calls) == sorted(["C111", ANA, BEN])
    channel_post = next(c for c in calls if c.params["channel"] == "C111")
    text = block_text(channel_post.params)
    assert f"<@{GIVER}>" in text and f"<@{ANA}>" in text and f"<@{BEN}>" in text
    assert "untangling the invoice run" in text and "#teamwork" in text
    appreciation = only_appreciation(server.runtime.db)
    assert appreciation.giver_id == GIVER
    assert sorted(appreciation.recipient_ids) == sorted([ANA, BEN])
    assert appreciation.reason == "for untangling the invoice run"
    assert appreciation.company_values == ["teamwork"]
    assert appreciation.channel_id == "C111" and not appreciation.is_private
    assert appreciation.created_at == server.runtime.clock()
    assert set(outbox_statuses(server.runtime.db).values()) == {"sent"}


def test_command_is_acknowledged_before_any_web_api_call(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_delay("users.info", 2.0)

    started = time.perf_counter()
    status = appreciate(server, slack, f"<@{ANA}> for the quick turnaround")
    elapsed = time.perf_counter() - started

    assert status == 200
    assert elapsed < 1.0, f"ack took {elapsed:.2f}s"
    slack.wait_for("response_url", 1, timeout=10)
    assert "recorded" in replies(slack)[0]


REFUSALS = [
    pytest.param(f"<@{GIVER}> for being me", "thanking others", id="yourself"),
    pytest.param("<@UBOT> for the reminders", "is a bot", id="a-bot"),
    pytest.param("<@U999> for everything", "couldn't find", id="unknown-person"),
    pytest.param("<@ULEFT> for years of help", "no longer active", id="deactivated"),
    pytest.param(f"<@{ANA}>", "Say what they did", id="no-reason"),
    pytest.param(f"<@{ANA}> " + "x" * 1001, "1,001 characters", id="reason-too-long"),
    pytest.param("<!subteam^S123|@devs> for the release", "not to groups", id="user-group"),
    pytest.param("<!here> for the release", "not to groups", id="here"),
    pytest.param("<!channel|channel> thanks", "not to groups", id="channel"),
    pytest.param("thanks all of you", "Who would you like to appreciate", id="nobody"),
    pytest.param(f"<@{ANA}> great work #teamwrok", "#teamwrok isn't one", id="unknown-value"),
    pytest.param(
        " ".join(f"<@U{n:03d}>" for n in range(500, 511)) + " for the offsite",
        "at most 10",
        id="eleven-people",
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFUSALS)
def test_refusals_get_a_clear_ephemeral_message_and_record_nothing(
    server: AppServer, slack: FakeSlack, text: str, expected: str
) -> None:
    slack.add_user("ULEFT", name="left", deleted=True)
    for n in range(500, 511):
        slack.add_user(f"U{n:03d}")

    appreciate(server, slack, text)

    reply = wait_reply(slack)
    assert expected in reply
    assert slack.response_url_posts()[0].get("response_type", "ephemeral") == "ephemeral"
    assert appreciation_count(server.runtime.db) == 0
    assert posts(slack) == []


def test_giver_past_the_daily_limit_in_their_own_day_is_refused(
    server: AppServer, slack: FakeSlack
) -> None:
    server.reconfigure(daily_limit=2)
    clock = server.runtime.clock
    # 23:30 in New York on the 24th is 04:30 UTC on the 25th.
    from datetime import UTC, datetime

    clock.now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    for n in range(2):
        appreciate(server, slack, f"<@{ANA}> for help number {n}")
        wait_reply(slack, count=n + 1)

    appreciate(server, slack, f"<@{ANA}> for one more")
    assert "2 appreciations today" in wait_reply(slack, count=3)
    assert appreciation_count(server.runtime.db) == 2

    # Past midnight in New York (05:00 UTC), the giver's day has turned.
    clock.now = datetime(2026, 11, 25, 5, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    appreciate(server, slack, f"<@{ANA}> for the next day")
    assert "recorded" in wait_reply(slack, count=4)
    assert appreciation_count(server.runtime.db) == 3


def test_reposted_text_cannot_ping_a_crowd(server: AppServer, slack: FakeSlack) -> None:
    appreciate(
        server,
        slack,
        f"<@{ANA}> for <!channel> covering <!here|here> and <!subteam^S1|@ops> @everyone, "
        f"with <@{BEN}>",
    )

    wait_reply(slack)
    channel_post = next(c for c in posts(slack) if c.params["channel"] == "C111")
    shown = block_text(channel_post.params) + channel_post.params["text"]
    assert "<!" not in shown
    assert "@everyone" not in shown
    assert f"<@{BEN}>" in shown


def test_channel_without_the_app_gets_the_post_through_the_response_url(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_channel("G222", is_member=False, is_private=True)

    appreciate(server, slack, f"<@{ANA}> for covering my shift", channel_id="G222")

    slack.wait_for("response_url", 2)
    in_channel = [p for p in slack.response_url_posts() if p.get("response_type") == "in_channel"]
    assert len(in_channel) == 1 and f"<@{ANA}>" in block_text(in_channel[0])
    assert "Shared in <#G222>" in replies(slack)[-1]
    assert set(outbox_statuses(server.runtime.db).values()) == {"sent"}


def test_appreciation_is_recorded_once_per_command_even_if_delivered_twice(
    server: AppServer, slack: FakeSlack
) -> None:
    appreciate(server, slack, f"<@{ANA}> for the review", trigger_id="111.222.same")
    wait_reply(slack)
    # The repeat finds its stored request: acknowledged, and nothing more is done or said.
    appreciate(server, slack, f"<@{ANA}> for the review", trigger_id="111.222.same")
    time.sleep(0.5)

    assert len(replies(slack)) == 1
    assert appreciation_count(server.runtime.db) == 1
    assert len(posts(slack)) == 2  # one channel post, one DM


def test_rate_limited_post_waits_for_retry_after_and_posts_once(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    appreciate(server, slack, f"<@{ANA}> for the spreadsheet")

    wait_reply(slack)
    channel_posts = [m for m in slack.messages("C111")]
    assert len(channel_posts) == 1
    assert set(outbox_statuses(server.runtime.db).values()) == {"sent"}


def test_slack_outage_delays_the_post_and_a_later_tick_sends_it_once(
    server: AppServer, slack: FakeSlack
) -> None:
    from datetime import timedelta

    from bot.jobs.tick import tick

    slack.fail_next("chat.postMessage", status=503)

    appreciate(server, slack, f"<@{ANA}> for the late-night fix")
    assert "slow to answer" in wait_reply(slack)
    assert appreciation_count(server.runtime.db) == 1
    pending = [k for k, v in outbox_statuses(server.runtime.db).items() if v == "pending"]
    assert len(pending) == 1

    # A minute later on the clock the work runs on (tick's --now alone decides only what is
    # due: retry times are the real clock's).
    clock = server.runtime.clock
    clock.now += timedelta(minutes=1)  # type: ignore[attr-defined]
    report = tick(server.runtime)
    assert report.delivered == 1
    assert len(slack.messages("C111")) == 1
    clock.now += timedelta(minutes=1)  # type: ignore[attr-defined]
    assert tick(server.runtime).delivered == 0
    assert len(slack.messages("C111")) == 1


def test_a_failing_slack_call_is_retried_and_recorded_once(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.fail_next("users.info", status=500)

    appreciate(server, slack, f"<@{ANA}> for the handover")

    assert "recorded" in wait_reply(slack)
    assert appreciation_count(server.runtime.db) == 1
    assert len(posts(slack)) == 2


def test_a_request_that_keeps_failing_is_parked_and_the_person_told_once(
    server: AppServer, slack: FakeSlack
) -> None:
    from sqlalchemy import select

    from bot.pipeline import MAX_ATTEMPTS
    from bot.store.models import SlackRequest

    slack.fail_next("users.info", status=500, times=MAX_ATTEMPTS)

    appreciate(server, slack, f"<@{ANA}> for the handover")

    # Eight attempts, the waits doubling between them (here from 50 ms): about 6 s.
    slack.wait_for("response_url", 1, timeout=20)
    assert "Sorry, something went wrong" in wait_reply(slack)
    time.sleep(0.5)
    assert len(replies(slack)) == 1
    assert appreciation_count(server.runtime.db) == 0
    with server.runtime.db.transaction() as session:
        (row,) = session.scalars(select(SlackRequest))
    assert (row.status, row.attempts) == ("parked", MAX_ATTEMPTS)
    assert row.last_error and "internal_error" in row.last_error


def test_unreachable_database_gets_an_honest_answer_in_the_ack(
    server: AppServer, slack: FakeSlack
) -> None:
    from bot.store.db import Database

    server.web.pipeline.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")

    status, body = server.client.command(
        command="/appreciate",
        text=f"<@{ANA}> for the handover",
        user_id=GIVER,
        response_url=slack.response_url(),
    )

    assert status == 200
    assert json.loads(body)["text"] == "I couldn't record that just now; please try again."
    time.sleep(0.3)
    assert posts(slack) == [] and replies(slack) == []


def test_help_lists_what_the_command_does(server: AppServer, slack: FakeSlack) -> None:
    appreciate(server, slack, "help")
    reply = wait_reply(slack)
    assert "/appreciate stats" in reply and "#teamwork" in reply


def test_stats_count_received_and_given(server: AppServer, slack: FakeSlack) -> None:
    appreciate(server, slack, f"<@{ANA}> for the demo")
    wait_reply(slack)
    appreciate(server, slack, "stats", user_id=ANA)
    reply = wait_reply(slack, count=2)
    assert "Received: this week *1* · this month *1* · all time *1*" in reply
    assert "Given: this week *0*" in reply


def test_top_ranks_by_appreciation_received_then_distinct_givers(
    server: AppServer, slack: FakeSlack
) -> None:
    db = server.runtime.db
    from bot.domain import PersonInfo, Workspace
    from bot.services import appreciation

    now = server.runtime.clock()
    ws = Workspace("T111")
    gifts = [(GIVER, BEN), (ANA, BEN), (GIVER, ANA), (GIVER, ANA)]
    for n, (giver, recipient) in enumerate(gifts):
        draft = appreciation.Draft(giver, [recipient], "thanks", source_key=f"k{n}")
        appreciation.record(db, ws, draft, PersonInfo(giver), now, daily_limit=10)

    appreciate(server, slack, "top week")

    reply = wait_reply(slack)
    assert reply.index(f"<@{BEN}>") < reply.index(f"<@{ANA}>")
    assert f"1. <@{BEN}>: 2 from 2 people" in reply
    assert f"2. <@{ANA}>: 2 from 1 person" in reply


def test_private_appreciation_is_not_ranked(server: AppServer, slack: FakeSlack) -> None:
    from bot.domain import PersonInfo, Workspace
    from bot.services import appreciation

    draft = appreciation.Draft(GIVER, [ANA], "thanks", is_private=True, source_key="p")
    appreciation.record(
        server.runtime.db,
        Workspace("T111"),
        draft,
        PersonInfo(GIVER),
        server.runtime.clock(),
        daily_limit=10,
    )
    appreciate(server, slack, "top all")
    assert "No public appreciation" in wait_reply(slack)


def test_unknown_top_period_is_explained(server: AppServer, slack: FakeSlack) -> None:
    appreciate(server, slack, "top year")
    assert "top month" in wait_reply(slack)


def test_people_are_looked_up_once_and_slack_s_word_of_a_change_is_taken_at_once(
    server: AppServer, slack: FakeSlack
) -> None:
    """What `users.info` said is used for a while; `user_change` replaces it when it comes."""
    appreciate(server, slack, f"<@{ANA}> for the deck", response_url=slack.response_url("one"))
    assert "recorded" in wait_reply(slack, "one")
    slack.reset_calls()
    appreciate(server, slack, f"<@{ANA}> for the demo", response_url=slack.response_url("two"))
    assert "recorded" in wait_reply(slack, "two")
    assert slack.calls_to("users.info") == []

    left = {"id": ANA, "team_id": "T111", "name": "ana", "deleted": True, "profile": {}}
    server.client.event({"type": "user_change", "user": left, "event_ts": "2.1"})
    server.drain()
    slack.reset_calls()
    appreciate(server, slack, f"<@{ANA}> for the notes", response_url=slack.response_url("three"))
    assert "no longer active" in wait_reply(slack, "three")
    assert slack.calls_to("users.info") == []
