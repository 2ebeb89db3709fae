"""A form is checked once, before its modal closes; what was accepted is saved, whenever the
worker gets to it and whatever Slack says by then."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import Ask, SettingsChange
from tests.conftest import ANA, GIVER, AppServer, MovableClock
from tests.e2e.processes import bot_env, running, start, stored, wait_until
from tests.e2e.test_asks import ask, the_ask
from tests.e2e.test_home_and_settings import settings_values
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import view_submission_payload


def test_settings_accepted_while_slack_was_slow_are_saved_when_slack_then_objects(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(slack, db, ADVOCATE_ADMINS=GIVER)
    # Slack takes longer than the form's channel check waits: the channel is accepted.
    slack.set_delay("conversations.info", 3)
    web = start(env, tmp_path, "run", "--http", "--no-scheduler", "--no-workers")
    try:
        assert web.client is not None
        status, body = web.client.interactive(
            view_submission_payload(
                callback_id="settings_modal",
                values=settings_values(digest_channel="C222"),
                user_id=GIVER,
                view_id="VSETSLOW",
            )
        )
        assert status == 200 and not body.strip(), body  # the modal closed: saved, it says
        assert stored(db) == 1
        # By the time a worker gets to it, Slack answers at once, and the channel is archived.
        slack.set_delay("conversations.info", 0)
        slack.set_channel("C222", is_archived=True)
        slack.reset_calls()
        with running(env, tmp_path, "worker"):
            assert wait_until(lambda: stored(db) == 0, 30)
    finally:
        web.stop()

    with db.transaction() as session:
        changes = session.scalar(
            select(func.count()).select_from(SettingsChange).where(SettingsChange.user_id == GIVER)
        )
    assert changes, "the accepted settings were dropped after the modal closed"
    assert slack.calls_to("conversations.info") == []  # not checked a second time


def test_a_commitment_submitted_before_midnight_and_worked_after_it_is_saved(
    server: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    # Ana, in Paris, commits to her today at 23:59 her time; the asker is in Tokyo.
    slack.add_user(GIVER, tz="Asia/Tokyo")
    ask(server, slack, f"<@{ANA}> review the renewal quote")
    row = the_ask(server)
    paris_midnight = clock().replace(hour=23, minute=0, second=0, microsecond=0)  # 00:00 CET
    clock.now = paris_midnight - timedelta(minutes=1)
    today = date(clock.now.year, clock.now.month, clock.now.day)
    assert server.workers is not None
    server.workers.stop()  # the workers are busy elsewhere: this waits past midnight

    _, body = server.client.interactive(
        view_submission_payload(
            callback_id="ask_commit_modal",
            values={"date": {"value": {"type": "datepicker", "selected_date": today.isoformat()}}},
            # A form whose own idea of today is not known (opened before it carried one).
            private_metadata=json.dumps({"ask_id": row.id}),
            user_id=ANA,
            view_id="VCOMMITLATE",
        )
    )
    assert not body.strip(), body  # accepted: the modal closed

    clock.now = paris_midnight + timedelta(minutes=1)
    server.reconfigure()  # workers again, after midnight
    server.drain()

    saved = the_ask(server)
    assert (saved.status, saved.committed_on) == ("committed", today)


def test_an_ask_whose_due_date_passed_in_the_askers_timezone_is_refused_on_its_field(
    server: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    # 15:00 UTC is already tomorrow in Tokyo: the asker's today is read in her timezone.
    slack.add_user(GIVER, tz="Asia/Tokyo")
    utc_today = clock().date()
    _, body = server.client.interactive(
        view_submission_payload(
            callback_id="ask_modal",
            values={
                "helper": {"value": {"type": "users_select", "selected_user": ANA}},
                "request": {"value": {"type": "plain_text_input", "value": "review the quote"}},
                "due": {"value": {"type": "datepicker", "selected_date": utc_today.isoformat()}},
                "channel": {
                    "value": {"type": "conversations_select", "selected_conversation": "C111"}
                },
            },
            user_id=GIVER,
            view_id="VASKPAST",
        )
    )
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and "passed" in answer["errors"]["due"]
    server.drain()
    with server.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Ask)) == 0
