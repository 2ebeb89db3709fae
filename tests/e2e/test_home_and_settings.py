"""The Home tab and the admin settings, through signed requests."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.domain import PersonInfo, Workspace
from bot.jobs.tick import tick
from bot.services import appreciation, workspaces
from bot.services.settings import for_workspace
from bot.store.models import Appreciation, AppreciationRecipient, SettingsChange, WorkspaceSetting
from tests.conftest import ANA, BEN, GIVER, AppServer, MovableClock
from tests.support.blockkit import assert_valid_home, assert_valid_modal
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import block_actions_payload, view_submission_payload

WS = Workspace("T111")
ADMIN = "UADM"


@pytest.fixture
def home(server: AppServer, slack: FakeSlack, clock: MovableClock) -> AppServer:
    slack.add_user(ADMIN, name="admin", is_admin=True, tz="Europe/Paris")
    workspaces.ensure(server.runtime.db, WS, "Example", clock())
    return server


def open_home(server: AppServer, slack: FakeSlack, user: str) -> dict[str, Any]:
    before = len(slack.calls_to("views.publish"))
    server.client.event(
        {
            "type": "app_home_opened",
            "user": user,
            "tab": "home",
            "channel": "D1",
            "event_ts": str(time.time()),
        }
    )
    view = slack.wait_for("views.publish", before + 1)[-1].params["view"]
    assert_valid_home(view)
    return view


def give(
    server: AppServer,
    giver: str,
    recipient: str,
    reason: str,
    *,
    private: bool = False,
    values: list[str] | None = None,
    at: datetime | None = None,
) -> None:
    draft = appreciation.Draft(
        giver,
        [recipient],
        reason,
        values=values or [],
        is_private=private,
        source_key=f"{giver}{recipient}{reason}",
    )
    appreciation.record(
        server.runtime.db,
        WS,
        draft,
        PersonInfo(giver),
        at or server.runtime.clock(),
        daily_limit=100,
    )


def test_home_tells_each_person_their_own_story(home: AppServer, slack: FakeSlack) -> None:
    give(home, GIVER, ANA, "fixed the export")
    give(home, BEN, ANA, "covered my shift", private=True)
    give(home, ANA, BEN, "great review")

    ana = json.dumps(open_home(home, slack, ANA))
    assert "fixed the export" in ana and "covered my shift" in ana and "(private)" in ana
    assert "This month's internal advocates" in ana
    ben = json.dumps(open_home(home, slack, BEN))
    assert "covered my shift" not in ben
    assert "Ask for a commitment" in ben and "Appreciate someone" in ben
    assert "Workspace settings" not in ben


def test_home_of_a_person_with_ten_thousand_appreciations_stays_within_limits(
    home: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    db = home.runtime.db
    start = clock() - timedelta(days=400)
    rows = [
        {
            "team_id": "T111",
            "giver_id": f"U{n % 300:04d}",
            "reason": f"thanks #{n} " + "x" * 200,
            "company_values": [],
            "is_private": n % 7 == 0,
            "source_key": f"bulk{n}",
            "created_at": start + timedelta(minutes=n * 50),
        }
        for n in range(10_000)
    ]
    with db.engine.begin() as connection:
        connection.execute(insert(Appreciation), rows)
        made = connection.execute(
            select(
                Appreciation.id,
                Appreciation.giver_id,
                Appreciation.is_private,
                Appreciation.created_at,
            ).order_by(Appreciation.id)
        )
        connection.execute(
            insert(AppreciationRecipient),
            [
                {
                    "team_id": "T111",
                    "appreciation_id": i,
                    "user_id": ANA,
                    "giver_id": giver,
                    "is_private": private,
                    "created_at": at,
                }
                for i, giver, private, at in made
            ],
        )

    view = open_home(home, slack, ANA)

    assert len(view["blocks"]) <= 100
    assert len(json.dumps(view).encode()) < 250_000
    assert "all time *10000*" in json.dumps(view)
    assert "9,995 more" in json.dumps(view)


def test_stats_command_and_home_show_the_same_numbers(home: AppServer, slack: FakeSlack) -> None:
    for n in range(3):
        give(home, GIVER, ANA, f"help {n}")
    view = json.dumps(open_home(home, slack, ANA), ensure_ascii=False)
    home.client.command(
        command="/appreciate", text="stats", user_id=ANA, response_url=slack.response_url()
    )
    slack.wait_for("response_url")
    stats = slack.response_url_posts()[-1]["text"]
    line = stats.splitlines()[1].split(": ", 1)[1]
    assert "this week *3*" in line
    assert line in view


def test_admins_see_the_settings_and_others_do_not(home: AppServer, slack: FakeSlack) -> None:
    assert "Workspace settings" in json.dumps(open_home(home, slack, ADMIN))
    assert "Workspace settings" not in json.dumps(open_home(home, slack, GIVER))
    home.reconfigure(admins=(GIVER,))
    assert "Workspace settings" in json.dumps(open_home(home, slack, GIVER))


def test_non_admin_cannot_open_the_settings(home: AppServer, slack: FakeSlack) -> None:
    home.client.interactive(
        block_actions_payload(
            action_id="settings_open", user_id=GIVER, view={"id": "VH", "type": "home"}
        )
    )
    slack.wait_for("chat.postMessage")
    assert "Only workspace admins" in slack.messages(GIVER)[0]["text"]
    assert slack.calls_to("views.open") == []


def settings_values(**changes: Any) -> dict[str, Any]:
    values = {
        "digest_channel": ("conversations_select", "selected_conversation", "C111"),
        "digest_day": ("static_select", "selected_option", {"value": "thu"}),
        "digest_time": ("timepicker", "selected_time", "10:00"),
        "timezone": ("plain_text_input", "value", "Europe/Paris"),
        "daily_limit": ("plain_text_input", "value", "3"),
        "values": ("plain_text_input", "value", "teamwork\ncustomer-first"),
        "checkin_audience": ("radio_buttons", "selected_option", {"value": "users"}),
        "checkin_channel": ("conversations_select", "selected_conversation", None),
        "checkin_day": ("static_select", "selected_option", {"value": "tue"}),
        "checkin_time": ("timepicker", "selected_time", "08:15"),
        "admins": ("multi_users_select", "selected_users", [BEN]),
    }
    for key, value in changes.items():
        kind, field, _ = values[key]
        values[key] = (kind, field, value)
    return {
        block: {"value": {"type": kind, field: value}}
        for block, (kind, field, value) in values.items()
    }


def submit_settings(server: AppServer, user: str, **changes: Any) -> dict[str, Any]:
    _, body = server.client.interactive(
        view_submission_payload(
            callback_id="settings_modal",
            values=settings_values(**changes),
            user_id=user,
            view_id="VSET",
        )
    )
    server.drain()
    return json.loads(body) if body.strip() else {}


def test_admin_opens_a_valid_settings_modal(home: AppServer, slack: FakeSlack) -> None:
    open_home(home, slack, ADMIN)
    home.client.interactive(
        block_actions_payload(
            action_id="settings_open", user_id=ADMIN, view={"id": "VH", "type": "home"}
        )
    )
    assert_valid_modal(slack.wait_for("views.open")[-1].params["view"])


def test_settings_are_saved_recorded_and_apply_without_a_restart(
    home: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    open_home(home, slack, ADMIN)  # Slack says this person is an admin
    answer = submit_settings(home, ADMIN)
    assert answer == {}
    slack.wait_for("views.publish", 2)  # saved after the ack; the Home is redrawn after it

    config = for_workspace(home.runtime.db, WS, home.runtime.settings)
    assert (config.digest_day, config.digest_time, config.timezone) == (
        "thu",
        "10:00",
        "Europe/Paris",
    )
    assert config.daily_limit == 3 and config.values == ("teamwork", "customer-first")
    assert config.retired_values == ("ownership",) and config.admins == (BEN,)
    with home.runtime.db.transaction() as session:
        change = session.scalar(select(SettingsChange))
    assert change is not None and change.user_id == ADMIN
    assert change.changes["daily_limit"] == {"from": 10, "to": 3}

    # The new values and limit apply to /appreciate at once.
    home.client.command(
        command="/appreciate",
        text=f"<@{ANA}> great call #customer-first",
        user_id=GIVER,
        response_url=slack.response_url(),
    )
    assert "recorded" in slack.wait_for("response_url")[-1].params["text"]
    home.client.command(
        command="/appreciate",
        text=f"<@{ANA}> again #ownership",
        user_id=GIVER,
        response_url=slack.response_url("b"),
    )
    slack.wait_for("response_url", 2)
    assert "isn't one of your company values" in slack.response_url_posts("b")[-1]["text"]

    # The digest moves to Thursday 10:00 in Paris at the next tick.
    clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 10:00 in Paris
    report = tick(home.runtime)
    assert [d.status for d in report.digests] == ["posted"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a timezone"),
        ({"digest_time": "25:00"}, "digest_time", "24-hour time"),
        ({"daily_limit": "0"}, "daily_limit", "1 to 100"),
        ({"daily_limit": "101"}, "daily_limit", "1 to 100"),
        ({"daily_limit": "ten"}, "daily_limit", "1 to 100"),
        ({"values": "teamwork\nTeamwork"}, "values", "listed twice"),
        ({"values": "customer first"}, "values", "can't be typed"),
        ({"digest_channel": "G404"}, "digest_channel", "invite it"),
        ({"checkin_audience": {"value": "channel"}}, "checkin_channel", "Choose the channel"),
    ],
)
def test_each_bad_setting_is_reported_on_its_field(
    home: AppServer, slack: FakeSlack, changes: dict[str, Any], field: str, words: str
) -> None:
    slack.set_channel("G404", is_member=False, is_private=True)
    open_home(home, slack, ADMIN)
    answer = submit_settings(home, ADMIN, **changes)
    assert answer["response_action"] == "errors"
    assert words in answer["errors"][field]
    with home.runtime.db.transaction() as session:
        assert session.scalar(select(WorkspaceSetting)) is None


def test_forged_settings_submission_from_a_non_admin_changes_nothing(
    home: AppServer, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    open_home(home, slack, GIVER)
    with caplog.at_level(logging.WARNING):
        answer = submit_settings(home, GIVER)
    assert answer["response_action"] == "errors"
    with home.runtime.db.transaction() as session:
        assert session.scalar(select(WorkspaceSetting)) is None
        assert session.scalar(select(SettingsChange)) is None
    assert any("non-admin" in r.message for r in caplog.records)


def test_renamed_and_retired_values_stay_on_old_appreciations(
    home: AppServer, slack: FakeSlack
) -> None:
    give(home, GIVER, ANA, "old one", values=["ownership"])
    open_home(home, slack, ADMIN)
    submit_settings(home, ADMIN, values="teamwork\nownership => accountability")
    config = for_workspace(home.runtime.db, WS, home.runtime.settings)
    assert config.values == ("teamwork", "accountability")
    assert "ownership" in config.retired_values
    with home.runtime.db.transaction() as session:
        old = session.scalar(select(Appreciation))
    assert old is not None and old.company_values == ["ownership"]


def test_a_person_moves_their_own_checkin(
    home: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    open_home(home, slack, GIVER)
    home.client.interactive(
        block_actions_payload(
            action_id="checkin_schedule_open", user_id=GIVER, view={"id": "VH", "type": "home"}
        )
    )
    assert_valid_modal(slack.wait_for("views.open")[-1].params["view"])
    home.client.interactive(
        view_submission_payload(
            callback_id="checkin_schedule_modal",
            user_id=GIVER,
            view_id="VS",
            values={
                "day": {"value": {"type": "static_select", "selected_option": {"value": "wed"}}},
                "time": {"value": {"type": "timepicker", "selected_time": "16:45"}},
            },
        )
    )
    slack.wait_for("views.publish", 2)
    assert "Wednesdays at 16:45 your time" in json.dumps(
        slack.calls_to("views.publish")[-1].params["view"]
    )
    # Wednesday 16:45 in New York is 21:45 UTC (the people who used the app get one).
    clock.now = datetime(2026, 12, 2, 21, 46, tzinfo=UTC)
    tick(home.runtime)
    assert any("weekly check-in" in m["text"] for m in slack.messages(GIVER))
