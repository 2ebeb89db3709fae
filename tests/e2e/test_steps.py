"""Workflow Builder's custom steps through the real `advocate run`, over HTTP and Socket
Mode, against the fake Slack: each run ends once, with the words a person would read."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Ask, SlackRequest, StepExecution
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.e2e.helpers import appreciation_count, block_text, only_appreciation
from tests.e2e.processes import Running, bot_env, running, start, wait_until
from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.slack_requests import (
    block_actions_payload,
    event_body,
    view_submission_payload,
)

PERMALINK = [{"name": "permalink", "type": "string", "is_required": False}]


class Deliver:
    """Slack's deliveries of events to one running app, over HTTP or Socket Mode."""

    def __init__(self, bot: Running, socket_mode: FakeSocketMode | None) -> None:
        self.bot = bot
        self.socket_mode = socket_mode

    def __call__(self, event: dict[str, Any], event_id: str | None = None) -> None:
        if self.socket_mode is not None:
            payload = json.loads(event_body(event, event_id=event_id))
            envelope = self.socket_mode.send_envelope("events_api", payload)
            self.socket_mode.wait_ack(envelope, timeout=10)
            return
        assert self.bot.client is not None
        status, _ = self.bot.client.event(event, event_id=event_id)
        assert status == 200


@contextmanager
def app(mode: str, slack: FakeSlack, db: Database, tmp_path: Path, **env: str) -> Iterator[Deliver]:
    if mode == "http":
        with running(bot_env(slack, db, **env), tmp_path, "run", "--http") as bot:
            yield Deliver(bot, None)
        return
    with FakeSocketMode() as socket_mode:
        slack.use_socket_mode(socket_mode)
        environment = bot_env(slack, db, SLACK_APP_TOKEN="xapp-1-test", **env)
        with running(environment, tmp_path, "run", "--socket") as bot:
            socket_mode.wait_connected(1, timeout=30)
            yield Deliver(bot, socket_mode)


def appreciate(slack: FakeSlack, **inputs: Any) -> dict[str, Any]:
    return slack.execute("appreciate", inputs, output_parameters=PERMALINK)


def ended(slack: FakeSlack, execution_id: str) -> bool:
    return slack.execution(execution_id).state != "running"


def completions(slack: FakeSlack, execution_id: str) -> list[str]:
    """The completions Slack accepted for this run (a refused one changes nothing)."""
    return [
        call.method
        for call in slack.calls
        if call.method.startswith("functions.complete")
        and call.params.get("function_execution_id") == execution_id
    ]


def tokens_kept(db: Database) -> list[str | None]:
    with db.transaction() as session:
        return list(session.scalars(select(StepExecution.token)))


def stored_bodies(db: Database) -> str:
    with db.transaction() as session:
        return " ".join(str(body) for body in session.scalars(select(SlackRequest.body)))


@pytest.fixture
def real_time(clock: MovableClock) -> None:
    clock.now = datetime.now(UTC)  # Slack's timestamps are the processes' real time


@pytest.mark.usefixtures("real_time")
@pytest.mark.parametrize("mode", ["http", "socket"])
def test_the_appreciate_step_posts_and_completes_with_the_permalink_once(
    mode: str, slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    event = appreciate(
        slack,
        giver=GIVER,
        recipients=[ANA, BEN],
        reason="for <!here> the launch & the docs",
        channel="C111",
        value="#Teamwork",
    )
    execution_id = event["function_execution_id"]
    with app(mode, slack, db, tmp_path, ADVOCATE_VALUES="teamwork,ownership") as deliver:
        deliver(event, event_id="EvSTEP1")
        assert wait_until(lambda: ended(slack, execution_id), 30), "the step never ended"
        # Slack delivers it again: the same event, then a new one for the same run.
        deliver(event, event_id="EvSTEP1")
        deliver(event, event_id="EvSTEP2")
        time.sleep(2.0)

    run = slack.execution(execution_id)
    assert run.state == "completed", run
    [post] = [m for m in slack.messages("C111") if not m.get("thread_ts")]
    assert run.outputs == {
        "permalink": f"https://example.slack.com/archives/C111/p{post['ts'].replace('.', '')}"
    }
    text = block_text(post)
    assert f"<@{ANA}>" in text and f"<@{BEN}>" in text and "#teamwork" in text
    # What a workflow passes on is escaped like anything a person types.
    assert "<!here>" not in text and "&amp;" in text
    assert appreciation_count(db) == 1
    assert only_appreciation(db).company_values == ["teamwork"]
    assert completions(slack, execution_id) == ["functions.completeSuccess"]
    # The run's token was kept only while it ran, and never with the stored request.
    # Erased when the ending is marked sent, just after Slack has it.
    assert wait_until(lambda: tokens_kept(db) == [None], 30), tokens_kept(db)
    assert event["bot_access_token"] not in stored_bodies(db)


@pytest.mark.usefixtures("real_time")
def test_refusals_fail_the_step_with_the_words_a_person_reads(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    slack.add_user("UROBOT", name="robot", is_bot=True)
    yourself = appreciate(slack, giver=GIVER, recipients=[GIVER], reason="me", channel="C111")
    bot = appreciate(slack, giver=GIVER, recipients=["UROBOT"], reason="beeps", channel="C111")
    first = appreciate(slack, giver=GIVER, recipients=[ANA], reason="the deck", channel="C111")
    over = appreciate(slack, giver=GIVER, recipients=[BEN], reason="the demo", channel="C111")
    value = appreciate(slack, giver=ANA, recipients=[BEN], reason="x", value="speed")
    with app("http", slack, db, tmp_path, ADVOCATE_DAILY_LIMIT="1", ADVOCATE_VALUES="craft") as go:
        for event in (yourself, bot, first):
            go(event)
        assert wait_until(lambda: ended(slack, first["function_execution_id"]), 30)
        go(over)
        go(value)
        assert wait_until(
            lambda: all(ended(slack, e["function_execution_id"]) for e in (yourself, bot, over)),
            30,
        )
        assert wait_until(lambda: ended(slack, value["function_execution_id"]), 30)
        # Erased when the ending is marked sent, just after Slack has it.
        assert wait_until(lambda: tokens_kept(db) == [None] * 5, 30), tokens_kept(db)

    def error(event: dict[str, Any]) -> str:
        run = slack.execution(event["function_execution_id"])
        assert run.state == "failed", run
        return run.error or ""

    assert "thanking others" in error(yourself)
    assert "is a bot" in error(bot)
    assert "You've given 1 appreciations today" in error(over)
    assert "#speed isn't one of your company values (#craft)" in error(value)
    assert slack.execution(first["function_execution_id"]).state == "completed"
    assert appreciation_count(db) == 1


@pytest.mark.usefixtures("real_time")
@pytest.mark.parametrize(
    "dies_in",
    [
        # Recorded and posted; everything dies before the run's completion is recorded.
        "chat.getPermalink",
        # Slack completes the run, and everything dies before it answers.
        "functions.completeSuccess",
    ],
)
def test_killed_between_recording_and_completing_it_completes_once_after_a_restart(
    dies_in: str, slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    event = appreciate(slack, giver=GIVER, recipients=[ANA], reason="the migration", channel="C111")
    execution_id = event["function_execution_id"]
    env = bot_env(slack, db)
    slack.set_delay(dies_in, 30)
    bot = start(env, tmp_path, "run", "--http")
    try:
        assert bot.client is not None
        bot.client.event(event)
        assert wait_until(lambda: slack.calls_to(dies_in), 30)
    finally:
        # Killed also when the wait fails: a process left behind slows every later test.
        bot.stop(signal.SIGKILL)
    slack.set_delay(dies_in, 0)
    assert appreciation_count(db) == 1

    with running(env, tmp_path, "run", "--http"):
        assert wait_until(lambda: tokens_kept(db) == [None], 30), "never marked completed"
        time.sleep(1.0)

    assert slack.execution(execution_id).outputs is not None

    assert slack.execution(execution_id).state == "completed"
    assert appreciation_count(db) == 1
    assert len([m for m in slack.messages("C111") if not m.get("thread_ts")]) == 1
    # The second attempt found the run ended: one completion reached Slack.
    assert completions(slack, execution_id)[0] == "functions.completeSuccess"


# ---------------------------------------------------------------- Ask for a commitment

ASK_OUTPUTS = [
    {"name": "committed_by", "type": "slack#/types/date", "is_required": False},
    {"name": "helper", "type": "slack#/types/user_id", "is_required": True},
]


def ask_step(slack: FakeSlack, **inputs: Any) -> dict[str, Any]:
    inputs = {"asker": GIVER, "helper": ANA, "request": "review the quote", "channel": "C111"} | (
        inputs
    )
    return slack.execute("ask_for_commitment", inputs, output_parameters=ASK_OUTPUTS)


def asks(db: Database) -> list[Ask]:
    with db.transaction() as session:
        return list(session.scalars(select(Ask).order_by(Ask.id)))


def the_ask(db: Database) -> Ask:
    [row] = asks(db)
    return row


def posted_ask(slack: FakeSlack, db: Database) -> Ask:
    """The ask a step posted, once its questions are in its thread."""

    def questions() -> bool:
        return any(
            m.get("thread_ts") and "Can you commit?" in str(m.get("blocks"))
            for m in slack.messages("C111")
        )

    assert wait_until(questions, 30), "the ask's questions never came"
    return the_ask(db)


def click(bot: Running, slack: FakeSlack, action_id: str, ask: Ask, user: str) -> None:
    assert bot.client is not None
    payload = block_actions_payload(
        action_id=action_id,
        value=str(ask.id),
        user_id=user,
        message_ts=ask.thread_ts or "",
        response_url=slack.response_url(f"click-{user}"),
    )
    status, _ = bot.client.interactive(payload)
    assert status == 200


def submit(bot: Running, slack: FakeSlack, count: int, values: dict[str, Any], user: str) -> None:
    """Submit the modal the app opened (its `count`-th) with `values`."""
    view = slack.wait_for("views.open", count)[count - 1].params["view"]
    assert bot.client is not None
    status, _ = bot.client.interactive(
        view_submission_payload(
            callback_id=view["callback_id"],
            values=values,
            private_metadata=view.get("private_metadata", ""),
            user_id=user,
            view_id=f"V{count:03d}",
        )
    )
    assert status == 200


def commit(bot: Running, slack: FakeSlack, ask: Ask, day: date, count: int = 1) -> None:
    click(bot, slack, "ask_commit", ask, ANA)
    picked = {"type": "datepicker", "selected_date": day.isoformat()}
    submit(bot, slack, count, {"date": {"value": picked}}, ANA)


def in_days(days: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


@pytest.mark.usefixtures("real_time")
@pytest.mark.parametrize("mode", ["http", "socket"])
def test_the_ask_step_posts_the_ask_and_completes_on_the_commitment(
    mode: str, slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    due = in_days(5)
    event = ask_step(slack, due_date=due.isoformat())
    execution_id = event["function_execution_id"]
    environment = bot_env(slack, db)
    with app(mode, slack, db, tmp_path) as deliver:
        deliver(event)
        ask = posted_ask(slack, db)
        # Its buttons are the ask's own, clicked over HTTP whichever way events come.
        bot = deliver.bot
        if bot.client is None:
            bot = start(environment, tmp_path, "run", "--http", "--no-scheduler")
        try:
            commit(bot, slack, ask, in_days(3))
            assert wait_until(lambda: ended(slack, execution_id), 30), "never completed"
            time.sleep(1.0)
        finally:
            if bot is not deliver.bot:
                bot.stop()

    run = slack.execution(execution_id)
    assert run.state == "completed", run
    assert run.outputs == {"committed_by": in_days(3).isoformat(), "helper": ANA}
    row = the_ask(db)
    assert (row.asker_id, row.helper_id, row.request) == (GIVER, ANA, "review the quote")
    assert row.due_on == due and row.status == "committed"
    assert completions(slack, execution_id) == ["functions.completeSuccess"]
    # Erased when the ending is marked sent, just after Slack has it.
    assert wait_until(lambda: tokens_kept(db) == [None], 30), tokens_kept(db)


@pytest.mark.usefixtures("real_time")
def test_the_ask_step_waits_for_done_when_asked_and_a_double_click_completes_once(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    event = ask_step(slack, complete_when="done")
    execution_id = event["function_execution_id"]
    with app("http", slack, db, tmp_path) as deliver:
        deliver(event)
        ask = posted_ask(slack, db)
        # It is on the Home of both, like any ask.
        for person in (GIVER, ANA):
            deliver({"type": "app_home_opened", "user": person, "tab": "home"})
            assert wait_until(lambda p=person: "review the quote" in str(slack.home_view(p)), 30)
        commit(deliver.bot, slack, ask, in_days(2))
        assert wait_until(lambda: the_ask(db).status == "committed", 30)
        time.sleep(1.0)
        assert not ended(slack, execution_id), "completed before it was done"
        # Ana clicks "Done" twice, at once.
        clicks = [
            threading.Thread(target=click, args=(deliver.bot, slack, "ask_done", ask, ANA))
            for _ in range(2)
        ]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join()
        assert wait_until(lambda: ended(slack, execution_id), 30), "never completed"
        time.sleep(1.5)

    run = slack.execution(execution_id)
    assert run.state == "completed", run
    assert run.outputs == {"committed_by": in_days(2).isoformat(), "helper": ANA}
    assert completions(slack, execution_id) == ["functions.completeSuccess"]
    assert the_ask(db).status == "done"


@pytest.mark.usefixtures("real_time")
def test_the_ask_step_fails_on_a_decline_with_its_reason_and_on_a_cancel(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    declined = ask_step(slack)
    with app("http", slack, db, tmp_path) as deliver:
        deliver(declined)
        ask = posted_ask(slack, db)
        click(deliver.bot, slack, "ask_decline", ask, ANA)
        reason = {"type": "plain_text_input", "value": "No capacity until the 15th"}
        submit(deliver.bot, slack, 1, {"reason": {"value": reason}}, ANA)
        assert wait_until(lambda: ended(slack, declined["function_execution_id"]), 30)

        cancelled = ask_step(slack, request="send the numbers")
        deliver(cancelled)
        assert wait_until(lambda: len(asks(db)) == 2 and all(a.thread_ts for a in asks(db)))
        click(deliver.bot, slack, "ask_cancel", asks(db)[1], GIVER)
        assert wait_until(lambda: ended(slack, cancelled["function_execution_id"]), 30)
        # Erased when the ending is marked sent, just after Slack has it.
        assert wait_until(lambda: tokens_kept(db) == [None, None], 30), tokens_kept(db)

    run = slack.execution(declined["function_execution_id"])
    assert (run.state, run.error) == ("failed", "No capacity until the 15th")
    run = slack.execution(cancelled["function_execution_id"])
    assert (run.state, run.error) == ("failed", f"<@{GIVER}> cancelled the ask.")
    assert tokens_kept(db) == [None, None]


@pytest.mark.usefixtures("real_time")
def test_the_ask_step_refuses_what_ask_refuses(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    yourself = ask_step(slack, helper=GIVER)
    robot = ask_step(slack, helper="UBOT")
    with app("http", slack, db, tmp_path) as deliver:
        deliver(yourself)
        deliver(robot)
        assert wait_until(
            lambda: (
                ended(slack, yourself["function_execution_id"])
                and ended(slack, robot["function_execution_id"])
            ),
            30,
        )
    assert "can't ask yourself" in (slack.execution(yourself["function_execution_id"]).error or "")
    assert "is a bot" in (slack.execution(robot["function_execution_id"]).error or "")
    assert slack.messages("C111") == []


@pytest.mark.usefixtures("real_time")
def test_killed_right_after_the_helpers_click_the_step_completes_once_after_a_restart(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    event = ask_step(slack, complete_when="done")
    execution_id = event["function_execution_id"]
    env = bot_env(slack, db)
    bot = start(env, tmp_path, "run", "--http")
    try:
        Deliver(bot, None)(event)
        ask = posted_ask(slack, db)
        # The click is recorded, and everything dies while its thread reply is on its way.
        slack.set_delay("chat.postMessage", 30)
        posted = len(slack.calls_to("chat.postMessage"))
        click(bot, slack, "ask_done", ask, ANA)
        assert wait_until(lambda: len(slack.calls_to("chat.postMessage")) > posted, 30)
    finally:
        bot.stop(signal.SIGKILL)
    slack.set_delay("chat.postMessage", 0)
    assert not ended(slack, execution_id)
    assert the_ask(db).status == "done"

    with running(env, tmp_path, "run", "--http"):
        assert wait_until(lambda: ended(slack, execution_id), 30), "never completed"
        assert wait_until(lambda: tokens_kept(db) == [None], 30)
        time.sleep(1.0)

    assert slack.execution(execution_id).state == "completed"
    assert completions(slack, execution_id) == ["functions.completeSuccess"]
