"""/ask end to end: the ask, its thread, the guards, the state machine, the closing thanks."""

from __future__ import annotations

import json
import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.models import Appreciation, Ask, Obstacle
from tests.conftest import ANA, BEN, GIVER, AppServer
from tests.e2e.processes import wait_until
from tests.support.blockkit import assert_valid_message_blocks, assert_valid_modal
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    block_actions_payload,
    message_shortcut_payload,
    view_submission_payload,
)


def ask(server: AppServer, slack: FakeSlack, text: str, **fields: Any) -> str:
    fields.setdefault("user_id", GIVER)
    key = fields.pop("key", "ask")
    fields.setdefault("response_url", slack.response_url(key))
    before = len(slack.response_url_posts(key))
    server.client.command(command="/ask", text=text, **fields)
    for _ in range(300):
        posts = slack.response_url_posts(key)
        if len(posts) > before:
            return posts[-1]["text"]
        threading.Event().wait(0.02)
    raise AssertionError("no reply to /ask")


def the_ask(server: AppServer) -> Ask:
    with server.runtime.db.transaction() as session:
        rows = list(session.scalars(select(Ask)))
    assert len(rows) == 1, rows
    return rows[0]


def thread(slack: FakeSlack, ask_row: Ask) -> list[dict[str, Any]]:
    return [m for m in slack.messages("C111") if m.get("thread_ts") == ask_row.thread_ts]


def click(
    server: AppServer, slack: FakeSlack, action_id: str, value: Any, user: str, key: str = "click"
) -> str | None:
    """Click a button in the thread; returns what the clicker was told, if anything."""
    before = len(slack.response_url_posts(key))
    status, _ = server.client.interactive(
        block_actions_payload(
            action_id=action_id,
            value=str(value),
            user_id=user,
            response_url=slack.response_url(key),
        )
    )
    assert status == 200
    for _ in range(100):
        posts = slack.response_url_posts(key)
        if len(posts) > before:
            return str(posts[-1]["text"])
        threading.Event().wait(0.02)
    return None


def submit(
    server: AppServer,
    view: dict[str, Any],
    values: dict[str, Any],
    user: str,
    view_id: str = "V900",
) -> dict[str, Any]:
    _, body = server.client.interactive(
        view_submission_payload(
            callback_id=view["callback_id"],
            values=values,
            private_metadata=view.get("private_metadata", ""),
            user_id=user,
            view_id=view_id,
        )
    )
    return json.loads(body) if body.strip() else {}


def test_ask_is_posted_with_the_questions_in_its_thread(
    server: AppServer, slack: FakeSlack
) -> None:
    reply = ask(server, slack, f"<@{ANA}> review the renewal quote by Dec 4")

    assert f"Asked <@{ANA}>" in reply
    row = the_ask(server)
    assert (row.asker_id, row.helper_id, row.request) == (GIVER, ANA, "review the renewal quote")
    assert str(row.due_on) == "2026-12-04" and row.timezone == "America/New_York"
    parent = slack.messages("C111")[0]
    assert parent["ts"] == row.thread_ts == row.status_ts
    assert f"<@{GIVER}> asked <@{ANA}>" in parent["text"]
    assert_valid_message_blocks(parent["blocks"])
    [questions] = thread(slack, row)
    assert f"<@{ANA}>" in str(questions["blocks"]) and "Can you commit?" in str(questions["blocks"])
    assert_valid_message_blocks(questions["blocks"])


ASK_REFUSALS = [
    pytest.param(f"<@{GIVER}> do my job", "can't ask yourself", id="yourself"),
    pytest.param("<@UBOT> remind me", "is a bot", id="bot"),
    pytest.param("<@ULEFT> one more thing", "no longer active", id="deactivated"),
    pytest.param(f"<@{ANA}>", "What do you need?", id="empty-request"),
    pytest.param("<!subteam^S1|@ops> fix it", "not a group", id="group"),
    pytest.param("fix the export", "Who are you asking?", id="nobody"),
    pytest.param(f"<@{ANA}> review it by Nov 20", "has already passed", id="past-date"),
    pytest.param(f"<@{ANA}> review it by 2026-13-45", "couldn't read", id="bad-date"),
]


@pytest.mark.parametrize(("text", "expected"), ASK_REFUSALS)
def test_refused_asks_get_a_clear_message_and_nothing_is_posted(
    server: AppServer, slack: FakeSlack, text: str, expected: str
) -> None:
    slack.add_user("ULEFT", deleted=True)
    assert expected in ask(server, slack, text)
    assert slack.messages("C111") == []
    with server.runtime.db.transaction() as session:
        assert list(session.scalars(select(Ask))) == []


def test_ask_in_a_channel_the_app_cannot_post_in_explains_how_to_add_it(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_channel("G123", is_member=False, is_private=True)
    assert "/invite @Advocate" in ask(server, slack, f"<@{ANA}> review it", channel_id="G123")
    assert slack.calls_to("chat.postMessage") == []


def test_the_whole_loop_from_ask_to_the_appreciation_that_closes_it(
    server: AppServer, slack: FakeSlack
) -> None:
    ask(server, slack, f"<@{ANA}> review the renewal quote by Dec 4")
    row = the_ask(server)

    # Ana commits, through the modal, with the asked-for date preselected.
    click(server, slack, "ask_commit", row.id, ANA)
    commit_view = slack.wait_for("views.open")[-1].params["view"]
    assert_valid_modal(commit_view)
    date_block = next(b for b in commit_view["blocks"] if b.get("block_id") == "date")
    assert date_block["element"]["initial_date"] == "2026-12-04"
    submit(
        server,
        commit_view,
        {"date": {"value": {"type": "datepicker", "selected_date": "2026-12-03"}}},
        ANA,
    )
    slack.wait_for("chat.update")
    assert "committed by Thu 3 Dec" in str(slack.messages("C111")[0]["blocks"])

    # Ana marks it done; Gloria is prompted to appreciate her.
    click(server, slack, "ask_done", row.id, ANA)
    slack.wait_for("chat.update", 2)
    replies = thread(slack, row)
    assert any(f"<@{ANA}> delivered" in m["text"] for m in replies)
    assert "Status: *done*" in str(slack.messages("C111")[0]["blocks"])

    click(server, slack, "ask_appreciate", row.id, GIVER)
    views = slack.wait_for("views.open", 2)
    modal = views[-1].params["view"]
    recipients = next(b for b in modal["blocks"] if b.get("block_id") == "recipients")
    assert recipients["element"]["initial_users"] == [ANA]
    submit(
        server,
        modal,
        {
            "recipients": {"value": {"type": "multi_users_select", "selected_users": [ANA]}},
            "reason": {"value": {"type": "plain_text_input", "value": "Fast, careful review"}},
            "channel": {"value": {"type": "conversations_select", "selected_conversation": "C111"}},
            "visibility": {
                "value": {"type": "radio_buttons", "selected_option": {"value": "public"}}
            },
        },
        GIVER,
        view_id="V901",
    )
    slack.wait_for("chat.postEphemeral")
    with server.runtime.db.transaction() as session:
        appreciation = session.scalar(select(Appreciation))
    assert appreciation is not None and appreciation.ask_id == row.id
    with server.runtime.db.transaction() as session:
        done = session.get(Ask, row.id)
    assert done is not None and done.status == "done" and done.done_at is not None


@pytest.mark.parametrize(
    ("action_id", "clicker", "owner"),
    [
        ("ask_commit", BEN, ANA),
        ("ask_done", GIVER, ANA),
        ("ask_discuss", BEN, ANA),
        ("ask_decline", GIVER, ANA),
        ("ask_raise_obstacle", GIVER, ANA),
        ("ask_cancel", ANA, GIVER),
        ("ask_appreciate", ANA, GIVER),
    ],
)
def test_only_the_right_person_can_answer(
    server: AppServer, slack: FakeSlack, action_id: str, clicker: str, owner: str
) -> None:
    ask(server, slack, f"<@{ANA}> review the quote")
    row = the_ask(server)
    told = click(server, slack, action_id, row.id, clicker)
    assert told == f"Only <@{owner}> can answer this."
    assert slack.response_url_posts("click")[-1].get("response_type", "ephemeral") == "ephemeral"
    assert the_ask(server).status == "asked"
    assert slack.calls_to("views.open") == []


def test_obstacles_are_raised_by_the_helper_and_removed_by_the_asker(
    server: AppServer, slack: FakeSlack
) -> None:
    ask(server, slack, f"<@{ANA}> export the Q3 numbers by Dec 4")
    row = the_ask(server)
    click(server, slack, "ask_raise_obstacle", row.id, ANA)
    view = slack.wait_for("views.open")[-1].params["view"]
    assert_valid_modal(view)
    submit(
        server,
        view,
        {
            "description": {
                "value": {"type": "plain_text_input", "value": "No access to <!here> the BI tool"}
            }
        },
        ANA,
    )
    slack.wait_for("chat.update")
    assert "obstacle open" in str(slack.messages("C111")[0]["blocks"])
    with server.runtime.db.transaction() as session:
        obstacle = session.scalar(select(Obstacle))
    assert obstacle is not None and obstacle.status == "open"
    posted = [m for m in thread(slack, row) if "sees an obstacle" in m["text"]]
    assert len(posted) == 1 and "<!here>" not in str(posted[0]["blocks"])

    assert click(server, slack, "ask_obstacle_resolved", obstacle.id, ANA) == (
        f"Only <@{GIVER}> can answer this."
    )
    click(server, slack, "ask_obstacle_handling", obstacle.id, GIVER)
    click(server, slack, "ask_obstacle_resolved", obstacle.id, GIVER)
    slack.wait_for("chat.update", 3)
    assert "Status: *asked*" in str(slack.messages("C111")[0]["blocks"])
    told = click(server, slack, "ask_obstacle_resolved", obstacle.id, GIVER)
    assert told is not None and "Already answered" in told


def test_double_click_and_concurrent_clicks_change_the_state_once(
    server: AppServer, slack: FakeSlack
) -> None:
    ask(server, slack, f"<@{ANA}> ship the fix")
    row = the_ask(server)
    threads = [
        threading.Thread(target=click, args=(server, slack, "ask_done", row.id, ANA, f"k{n}"))
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert the_ask(server).status == "done"
    delivered = [m for m in thread(slack, row) if "delivered" in m["text"]]
    assert len(delivered) == 1
    told = [p["text"] for k in range(4) for p in slack.response_url_posts(f"k{k}")]
    assert sum("Already answered" in t for t in told) == 3


def test_declining_with_a_reason_closes_the_ask(server: AppServer, slack: FakeSlack) -> None:
    ask(server, slack, f"<@{ANA}> rebuild the dashboard")
    row = the_ask(server)
    click(server, slack, "ask_decline", row.id, ANA)
    view = slack.wait_for("views.open")[-1].params["view"]
    submit(
        server,
        view,
        {"reason": {"value": {"type": "plain_text_input", "value": "No capacity until January"}}},
        ANA,
    )
    slack.wait_for("chat.update")
    assert the_ask(server).status == "declined"
    assert any("No capacity until January" in str(m["blocks"]) for m in thread(slack, row))
    assert click(server, slack, "ask_commit", row.id, ANA) == (
        "Already answered: this ask is declined."
    )


def test_message_shortcut_tracks_that_message_with_the_questions_in_its_thread(
    server: AppServer, slack: FakeSlack
) -> None:
    original = {
        "type": "message",
        "text": f"<@{ANA}> could you send the signed NDA?",
        "user": GIVER,
        "ts": "1764000000.000100",
    }
    server.client.interactive(
        message_shortcut_payload(callback_id="ask_for_commitment", message=original, user_id=GIVER)
    )
    view = slack.wait_for("views.open")[-1].params["view"]
    assert_valid_modal(view)
    helper_block = next(b for b in view["blocks"] if b.get("block_id") == "helper")
    assert helper_block["element"]["initial_user"] == ANA

    answer = submit(
        server,
        view,
        {
            "helper": {"value": {"type": "users_select", "selected_user": ANA}},
            "request": {
                "value": {"type": "plain_text_input", "value": "could you send the signed NDA?"}
            },
            "due": {"value": {"type": "datepicker", "selected_date": "2026-12-01"}},
        },
        GIVER,
    )
    assert answer == {}
    slack.wait_for("chat.postMessage", 2)
    # The posts are marked sent, and the status line's ts kept, once both are in Slack.
    assert wait_until(lambda: the_ask(server).status_ts is not None)
    row = the_ask(server)
    assert row.thread_ts == "1764000000.000100" and row.from_message
    replies = [m for m in slack.messages("C111") if m.get("thread_ts") == "1764000000.000100"]
    assert len(replies) == 2
    assert row.status_ts == replies[0]["ts"]


def test_message_shortcut_refuses_asking_yourself_on_the_field(
    server: AppServer, slack: FakeSlack
) -> None:
    original = {"type": "message", "text": "note to self", "user": GIVER, "ts": "1764000000.1"}
    server.client.interactive(
        message_shortcut_payload(callback_id="ask_for_commitment", message=original, user_id=GIVER)
    )
    view = slack.wait_for("views.open")[-1].params["view"]
    answer = submit(
        server,
        view,
        {
            "helper": {"value": {"type": "users_select", "selected_user": GIVER}},
            "request": {"value": {"type": "plain_text_input", "value": "note to self"}},
        },
        GIVER,
    )
    assert answer["response_action"] == "errors" and "helper" in answer["errors"]


def test_an_ask_whose_questions_were_left_behind_gets_them_from_the_next_tick(
    server: AppServer, slack: FakeSlack
) -> None:
    from bot.jobs.tick import register_token_workspace, tick

    sender = server.runtime.sender
    follow_ups, sender.on_sent = sender.on_sent, None  # the process stops right after the post
    ask(server, slack, f"<@{ANA}> review the renewal quote")
    server.drain()
    left = the_ask(server)
    [post] = slack.messages("C111")
    assert left.thread_ts is None and "anything in the way" not in str(post)
    sender.on_sent = follow_ups

    register_token_workspace(server.runtime)  # as `advocate tick` does first
    tick(server.runtime)
    tick(server.runtime)

    finished = the_ask(server)
    assert finished.thread_ts == post["ts"]
    questions = [m for m in thread(slack, finished) if "anything in the way" in m["text"]]
    assert len(questions) == 1


def test_a_helper_behind_the_asker_can_commit_to_the_day_the_form_offers(
    server: AppServer, slack: FakeSlack
) -> None:
    # 15:00 UTC: Thursday 00:00 in Tokyo for the asker, Wednesday 10:00 in New York for Ana.
    slack.add_user(GIVER, tz="Asia/Tokyo")
    slack.add_user(ANA, tz="America/New_York")
    ask(server, slack, f"<@{ANA}> review the renewal quote")
    row = the_ask(server)
    assert row.timezone == "Asia/Tokyo"

    click(server, slack, "ask_commit", row.id, ANA)
    view = slack.wait_for("views.open")[-1].params["view"]
    offered = next(b for b in view["blocks"] if b.get("block_id") == "date")["element"]
    assert offered["initial_date"] == "2026-11-25"  # her today
    picked = {"date": {"value": {"type": "datepicker", "selected_date": "2026-11-25"}}}

    answer = submit(server, view, picked, ANA)

    assert answer == {}, answer
    server.drain()
    assert the_ask(server).committed_on == date(2026, 11, 25)
