"""Signatures, health, events and their retries."""

from __future__ import annotations

import json
import time

from tests.conftest import GIVER, AppServer
from tests.support.blockkit import assert_valid_home
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import FORM_CONTENT_TYPE, slash_command_body


def test_forged_signature_is_rejected_with_401(server: AppServer, slack: FakeSlack) -> None:
    body = slash_command_body(command="/appreciate", text="help")
    status, _, _ = server.client.post(
        "/slack/events", body, FORM_CONTENT_TYPE, signature="v0=" + "0" * 64
    )
    assert status == 401
    assert slack.calls == []


def test_stale_signature_is_rejected_with_401(server: AppServer, slack: FakeSlack) -> None:
    body = slash_command_body(command="/appreciate", text="help")
    status, _, _ = server.client.post(
        "/slack/events", body, FORM_CONTENT_TYPE, timestamp=int(time.time()) - 600
    )
    assert status == 401


def test_unsigned_request_is_rejected_with_401(server: AppServer) -> None:
    body = slash_command_body(command="/appreciate", text="help")
    status, _, _ = server.client.post("/slack/events", body, FORM_CONTENT_TYPE, signed=False)
    assert status == 401


def test_health_is_200_when_the_database_answers(server: AppServer) -> None:
    status, body = server.client.get("/healthz")
    assert status == 200
    assert json.loads(body)["database"] == "ok"


def test_health_is_503_when_the_database_does_not_answer(server: AppServer) -> None:
    from bot.store.db import Database

    server.web.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    status, body = server.client.get("/healthz")
    assert status == 503
    assert json.loads(body)["database"] == "down"


def test_url_verification_is_answered(server: AppServer) -> None:
    from tests.support.slack_requests import JSON_CONTENT_TYPE, url_verification_body

    status, _, body = server.client.post(
        "/slack/events", url_verification_body("abc"), JSON_CONTENT_TYPE
    )
    assert status == 200 and b"abc" in body


def test_home_tab_is_published_once_even_when_slack_retries_the_event(
    server: AppServer, slack: FakeSlack
) -> None:
    event = {
        "type": "app_home_opened",
        "user": GIVER,
        "channel": "D111",
        "tab": "home",
        "event_ts": "1700000000.000100",
    }

    status, _ = server.client.event(event, event_id="Ev111")
    assert status == 200
    slack.wait_for("views.publish")
    status, _ = server.client.event(event, event_id="Ev111", retry_num=1)
    assert status == 200
    time.sleep(0.3)

    publishes = slack.calls_to("views.publish")
    assert len(publishes) == 1
    assert_valid_home(publishes[0].params["view"])


def test_user_change_remembers_a_deactivated_person(server: AppServer, slack: FakeSlack) -> None:
    from sqlalchemy import select

    from bot.store.models import Person

    user = {
        "id": "U777",
        "team_id": "T111",
        "name": "left",
        "deleted": True,
        "is_bot": False,
        "tz": "Europe/Berlin",
        "profile": {"display_name": "left"},
    }
    server.client.event({"type": "user_change", "user": user, "event_ts": "1.2"})

    for _ in range(100):
        with server.runtime.db.transaction() as session:
            person = session.scalar(select(Person).where(Person.user_id == "U777"))
        if person:
            break
        time.sleep(0.02)
    assert person is not None and person.deleted and person.tz == "Europe/Berlin"


def test_signatures_are_checked_over_http_even_when_an_app_token_is_set(
    server: AppServer,
) -> None:
    server.reconfigure(slack_app_token="xapp-1-set-but-serving-http")
    body = slash_command_body(command="/appreciate", text="help")
    status, _, _ = server.client.post("/slack/events", body, FORM_CONTENT_TYPE, signed=False)
    assert status == 401
