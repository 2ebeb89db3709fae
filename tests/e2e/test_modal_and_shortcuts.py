"""The appreciation modal, opened from /appreciate, the shortcuts and the Home button."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import ANA, BEN, GIVER, AppServer
from tests.e2e.helpers import appreciation_count, block_text, only_appreciation, posts
from tests.support.blockkit import assert_valid_modal
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    block_actions_payload,
    global_shortcut_payload,
    message_shortcut_payload,
    view_submission_payload,
)


def opened_view(slack: FakeSlack, count: int = 1) -> dict[str, Any]:
    view = slack.wait_for("views.open", count)[count - 1].params["view"]
    assert_valid_modal(view)
    return view


def dms_to(slack: FakeSlack, user_id: str, timeout: float = 4.0) -> list[str]:
    """The texts of the DMs `user_id` got, waiting for the first one to arrive."""
    deadline = time.monotonic() + timeout
    while not slack.messages(user_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    texts = [m["text"] for m in slack.messages(user_id)]
    assert texts, f"{user_id} got no DM"
    return texts


def submit(
    server: AppServer,
    view: dict[str, Any],
    *,
    recipients: list[str],
    reason: str,
    values: list[str] | None = None,
    channel: str | None = None,
    private: bool = False,
    view_id: str = "V123",
    user_id: str = GIVER,
) -> tuple[int, bytes]:
    state: dict[str, Any] = {
        "recipients": {"value": {"type": "multi_users_select", "selected_users": recipients}},
        "reason": {"value": {"type": "plain_text_input", "value": reason}},
        "channel": {"value": {"type": "conversations_select", "selected_conversation": channel}},
        "visibility": {
            "value": {
                "type": "radio_buttons",
                "selected_option": {"value": "private" if private else "public"},
            }
        },
    }
    if values is not None:
        state["values"] = {
            "value": {
                "type": "multi_static_select",
                "selected_options": [{"value": v} for v in values],
            }
        }
    payload = view_submission_payload(
        callback_id=view["callback_id"],
        values=state,
        private_metadata=view.get("private_metadata", ""),
        user_id=user_id,
        view_id=view_id,
    )
    return server.client.interactive(payload)


def test_command_without_text_opens_the_modal_for_that_channel(
    server: AppServer, slack: FakeSlack
) -> None:
    status, _ = server.client.command(
        command="/appreciate", text="", user_id=GIVER, response_url=slack.response_url()
    )

    assert status == 200
    view = opened_view(slack)
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["channel"]["element"]["initial_conversation"] == "C111"
    assert [o["value"] for o in blocks["values"]["element"]["options"]] == [
        "teamwork",
        "ownership",
    ]


def test_modal_submission_records_posts_and_tells_the_giver(
    server: AppServer, slack: FakeSlack
) -> None:
    server.client.command(
        command="/appreciate", text="", user_id=GIVER, response_url=slack.response_url()
    )
    view = opened_view(slack)

    status, body = submit(
        server,
        view,
        recipients=[ANA, BEN],
        reason="Shipped <!channel> the fix",
        values=["ownership"],
        channel="C111",
    )

    assert status == 200 and body in (b"", b"{}")
    slack.wait_for("chat.postMessage", 3)
    told = slack.wait_for("chat.postEphemeral")[0].params
    appreciation = only_appreciation(server.runtime.db)
    assert appreciation.company_values == ["ownership"]
    assert appreciation.reason == "Shipped <!channel> the fix"
    channel_post = next(c for c in posts(slack) if c.params["channel"] == "C111")
    assert "<!channel>" not in block_text(channel_post.params)
    assert told["user"] == GIVER and "Shared in <#C111>" in told["text"]


def test_double_submitted_modal_records_and_posts_once(server: AppServer, slack: FakeSlack) -> None:
    server.client.interactive(
        global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
    )
    view = opened_view(slack)

    submit(server, view, recipients=[ANA], reason="Covered the on-call", channel="C111")
    submit(server, view, recipients=[ANA], reason="Covered the on-call", channel="C111")

    slack.wait_for("chat.postEphemeral", 2)
    assert appreciation_count(server.runtime.db) == 1
    assert len(slack.messages("C111")) == 1
    assert len(slack.messages(ANA)) == 1
    said = [c.params["text"] for c in slack.calls_to("chat.postEphemeral")]
    assert any("already recorded" in s for s in said)


def test_modal_errors_are_shown_on_the_field_at_fault(server: AppServer, slack: FakeSlack) -> None:
    server.client.interactive(
        global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
    )
    view = opened_view(slack)

    status, body = submit(server, view, recipients=[GIVER], reason="me")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert "recipients" in answer["errors"]

    _status, body = submit(server, view, recipients=[ANA], reason="   ")
    assert "reason" in json.loads(body)["errors"]
    assert appreciation_count(server.runtime.db) == 0


def test_global_shortcut_without_a_channel_sends_dms_and_says_so(
    server: AppServer, slack: FakeSlack
) -> None:
    server.client.interactive(
        global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
    )
    view = opened_view(slack)

    submit(server, view, recipients=[ANA], reason="Answered every question")

    told = dms_to(slack, GIVER)
    assert "recorded" in told[0] and "DM only" in told[0]
    assert len(slack.messages(ANA)) == 1
    assert all(c.params["channel"] != "C111" for c in slack.calls_to("chat.postMessage"))


def test_private_appreciation_is_only_sent_to_the_recipient(
    server: AppServer, slack: FakeSlack
) -> None:
    server.client.interactive(
        global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
    )
    view = opened_view(slack)

    submit(
        server,
        view,
        recipients=[ANA],
        reason="Thanks for the candid feedback",
        channel="C111",
        private=True,
    )

    slack.wait_for("chat.postEphemeral")
    assert only_appreciation(server.runtime.db).is_private
    assert slack.messages("C111") == []
    assert "just between you" in block_text(slack.messages(ANA)[0])


def test_removed_from_channel_recipients_still_get_their_dm_and_giver_is_told(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_channel("G999", is_member=False, is_private=True)
    server.client.interactive(
        global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
    )
    view = opened_view(slack)

    submit(server, view, recipients=[ANA], reason="Great handover", channel="G999")

    told = dms_to(slack, GIVER)
    assert "not a member" in told[0] and "still got it by DM" in told[0]
    assert len(slack.messages(ANA)) == 1


def test_message_shortcut_preselects_the_author_and_links_the_message(
    server: AppServer, slack: FakeSlack
) -> None:
    message = {
        "type": "message",
        "text": "Fixed the export, see thread",
        "user": ANA,
        "ts": "1700000000.000200",
    }
    server.client.interactive(
        message_shortcut_payload(
            callback_id="appreciate_message",
            message=message,
            user_id=GIVER,
            response_url=slack.response_url(),
        )
    )
    view = opened_view(slack)
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["recipients"]["element"]["initial_users"] == [ANA]

    submit(server, view, recipients=[ANA], reason="This fix saved the renewal", channel="C111")

    slack.wait_for("chat.postMessage", 2)
    appreciation = only_appreciation(server.runtime.db)
    assert appreciation.message_ts == "1700000000.000200"
    assert appreciation.message_permalink and "p1700000000000200" in appreciation.message_permalink
    post = slack.messages("C111")[0]
    assert appreciation.message_permalink in block_text(post)


def test_home_button_opens_the_modal(server: AppServer, slack: FakeSlack) -> None:
    server.client.interactive(
        block_actions_payload(action_id="appreciate_open_modal", user_id=GIVER)
    )
    opened_view(slack)
