"""Logs never carry a secret, and text people type never becomes a log format string.

Operators ship logs to places with wider access than the app's environment, and turn on
DEBUG when something goes wrong: then slack_sdk logs every request it sends and every answer
it gets, and Bolt how it checked and routed each request it received. The whole loop runs
here with the root logger at DEBUG.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.jobs.tick import register_token_workspace, tick
from bot.pipeline import MAX_ATTEMPTS
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET, AppServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    FORM_CONTENT_TYPE,
    block_actions_payload,
    slash_command_body,
    view_submission_payload,
)

FRIDAY_AFTER_THE_DIGEST = datetime(2026, 11, 27, 16, 5, tzinfo=UTC)
# What turns a string into a log message: %-style placeholders, positional and named, and
# str.format fields for loggers configured with style="{".
FORMAT_BAIT = "%s %d %(name)s {0} %(message)s %%"
PRODUCTION_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # bot/cli.py
_view_ids = itertools.count(900)


def reply_to(slack: FakeSlack, key: str, timeout: float = 10.0) -> str:
    """What the person was told through the response_url `key`."""
    deadline = time.monotonic() + timeout
    while not slack.response_url_posts(key):
        assert time.monotonic() < deadline, f"nothing was said through response_url {key!r}"
        time.sleep(0.02)
    return str(slack.response_url_posts(key)[-1].get("text", ""))


def command(server: AppServer, slack: FakeSlack, name: str, text: str, key: str) -> str:
    status, _ = server.client.command(
        command=name, text=text, user_id=GIVER, response_url=slack.response_url(key)
    )
    assert status == 200
    return reply_to(slack, key)


def click(server: AppServer, slack: FakeSlack, action_id: str, value: str, user: str) -> None:
    payload = block_actions_payload(
        action_id=action_id, value=value, user_id=user, response_url=slack.response_url("click")
    )
    assert server.client.interactive(payload)[0] == 200


def submit(server: AppServer, view: dict[str, Any], values: dict[str, Any], user: str) -> None:
    payload = view_submission_payload(
        callback_id=view["callback_id"],
        values=values,
        private_metadata=view.get("private_metadata", ""),
        user_id=user,
        view_id=f"V{next(_view_ids)}",
    )
    assert server.client.interactive(payload)[0] == 200


def said_in(slack: FakeSlack, channel: str, words: str, timeout: float = 10.0) -> None:
    """Wait until a message in `channel` (a user id: their DM) contains `words`."""
    deadline = time.monotonic() + timeout
    while not any(words in m["text"] for m in slack.messages(channel)):
        assert time.monotonic() < deadline, f"{words!r} never appeared in {channel}"
        time.sleep(0.02)


def run_the_whole_loop(server: AppServer, slack: FakeSlack) -> None:
    """Appreciation by command and by modal, the Home tab, an ask committed to and done,
    a forged request, and a tick that posts the weekly digest."""
    said = command(
        server, slack, "/appreciate", f"<@{ANA}> <@{BEN}> for the launch #teamwork", "thanks"
    )
    assert "recorded" in said

    server.client.command(command="/appreciate", text="", user_id=GIVER)
    modal = slack.wait_for("views.open")[-1].params["view"]
    submit(
        server,
        modal,
        {
            "recipients": {"value": {"type": "multi_users_select", "selected_users": [ANA]}},
            "reason": {"value": {"type": "plain_text_input", "value": "for the quick review"}},
            "channel": {"value": {"type": "conversations_select", "selected_conversation": None}},
            "visibility": {
                "value": {"type": "radio_buttons", "selected_option": {"value": "public"}}
            },
        },
        GIVER,
    )
    said_in(slack, GIVER, "recorded")  # the modal's summary arrives by DM

    home = {"type": "app_home_opened", "user": GIVER, "channel": "D111", "tab": "home"}
    assert server.client.event(home)[0] == 200
    slack.wait_for("views.publish")

    said = command(server, slack, "/ask", f"<@{ANA}> review the renewal quote by Dec 4", "ask")
    assert "Asked" in said
    click(server, slack, "ask_commit", "1", ANA)
    commit_modal = slack.wait_for("views.open", 2)[-1].params["view"]
    picked = {"date": {"value": {"type": "datepicker", "selected_date": "2026-12-03"}}}
    submit(server, commit_modal, picked, ANA)
    said_in(slack, "C111", "commits to this")
    click(server, slack, "ask_done", "1", ANA)
    said_in(slack, "C111", "delivered")

    forged = slash_command_body(command="/appreciate", text="help")
    status, _, _ = server.client.post(
        "/slack/events", forged, FORM_CONTENT_TYPE, signature="v0=" + "0" * 64
    )
    assert status == 401

    server.reconfigure(digest_channel="C111")
    server.runtime.clock.now = FRIDAY_AFTER_THE_DIGEST  # type: ignore[attr-defined]
    register_token_workspace(server.runtime)  # as `advocate tick` does first
    report = tick(server.runtime)
    assert [d.status for d in report.digests] == ["posted"], report


@pytest.fixture
def stderr_log(capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Log to stderr as `advocate run` does. The handler goes first: pytest's own handler
    raises on a record it cannot format, which would hide logging's "--- Logging error ---"."""
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter(PRODUCTION_FORMAT))
    root = logging.getLogger()
    root.handlers.insert(0, handler)
    yield capfd
    root.removeHandler(handler)


def test_no_log_line_carries_the_bot_token_or_the_signing_secret(
    server: AppServer,
    slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    stderr_log: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reconfigure()  # Bolt's loggers take the root logger's level when the app is built
    token = server.runtime.settings.slack_bot_token
    assert token == "xoxb-test"

    run_the_whole_loop(server, slack)

    # Proves nothing unless both libraries really logged at DEBUG along the way.
    debug_from = {r.name.split(".")[0] for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"slack_sdk", "slack_bolt"} <= debug_from, debug_from
    assert token not in caplog.text
    assert SIGNING_SECRET not in caplog.text
    for record in caplog.records:
        # Arguments and extras reach log shippers that format records themselves.
        raw = repr(vars(record))
        assert token not in raw, f"{record.name}: {raw[:500]}"
        assert SIGNING_SECRET not in raw, f"{record.name}: {raw[:500]}"
    printed = stderr_log.readouterr().err
    assert token not in printed
    assert SIGNING_SECRET not in printed


def test_text_people_type_is_never_used_as_a_log_format_string(
    server: AppServer,
    slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    stderr_log: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reconfigure()  # Bolt's loggers take the root logger's level when the app is built
    # users.info failing sends each request down the error path, which logs the failure.
    # Three requests, each through all its attempts.
    slack.fail_next("users.info", status=500, times=3 * MAX_ATTEMPTS)
    bait = f"for the fix {FORMAT_BAIT}"

    by_command = command(server, slack, "/appreciate", f"<@{ANA}> {bait}", "appreciate")
    asked = command(server, slack, "/ask", f"<@{ANA}> {bait} by Dec 4", "ask")
    server.client.command(command="/appreciate", text="", user_id=GIVER)
    modal = slack.wait_for("views.open")[-1].params["view"]
    submit(
        server,
        modal,
        {
            "recipients": {"value": {"type": "multi_users_select", "selected_users": [ANA]}},
            "reason": {"value": {"type": "plain_text_input", "value": bait}},
        },
        GIVER,
    )
    # The apology, by DM (a modal has no response_url), after its eight attempts.
    slack.wait_for("chat.postMessage", timeout=20)

    assert "something went wrong" in by_command
    assert "something went wrong" in asked
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) >= 3, "each failure should have been logged"
    for record in caplog.records:
        # The template is the code's own; what a person typed may only be an argument.
        assert FORMAT_BAIT not in str(record.msg), f"{record.name}: {record.msg!r}"
        record.getMessage()  # and every record formats
    assert "--- Logging error ---" not in stderr_log.readouterr().err
