"""Answering a check-in: buttons and pickers through signed requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.blocks.checkin import goal_block_id
from bot.domain import PersonInfo, Workspace
from bot.services import checkins, workspaces
from bot.slack import people
from bot.store.models import BuyInGoal, Person
from tests.conftest import ANA, BEN, GIVER, AppServer, MovableClock
from tests.support.blockkit import assert_valid_home
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import block_actions_payload

WS = Workspace("T111")
# Wednesday 25 November 2026: week 2026-W48 for everyone in the fixtures.
WEEK = "2026-W48"


@pytest.fixture
def known(server: AppServer, clock: MovableClock) -> AppServer:
    workspaces.ensure(server.runtime.db, WS, "Example", clock())
    people.remember(server.runtime.db, WS, [PersonInfo(GIVER, tz="America/New_York")], clock())
    return server


def pick(server: AppServer, slack: FakeSlack, target: str, week: str = WEEK) -> str:
    payload = block_actions_payload(
        action_id="checkin_goal",
        user_id=GIVER,
        block_id=goal_block_id(week),
        response_url=slack.response_url(),
        extra_action={"type": "users_select", "selected_user": target},
    )
    before = len(slack.response_url_posts())
    server.client.interactive(payload)
    slack.wait_for("response_url", before + 1)
    return slack.response_url_posts()[-1]["text"]


def goals(server: AppServer) -> list[BuyInGoal]:
    with server.runtime.db.transaction() as session:
        return list(session.scalars(select(BuyInGoal)))


def test_choosing_a_person_records_the_weeks_buy_in_goal(
    known: AppServer, slack: FakeSlack
) -> None:
    reply = pick(known, slack, ANA)

    assert f"Noted: your buy-in goal this week is <@{ANA}>" in reply
    [goal] = goals(known)
    assert (goal.user_id, goal.week, goal.target_user_id) == (GIVER, WEEK, ANA)
    home = slack.wait_for("views.publish")[-1].params["view"]
    assert_valid_home(home)
    assert f"<@{ANA}>" in str(home)


def test_answering_twice_keeps_one_goal(known: AppServer, slack: FakeSlack) -> None:
    pick(known, slack, ANA)
    assert "Already noted" in pick(known, slack, ANA)
    assert "Changed" in pick(known, slack, BEN)
    [goal] = goals(known)
    assert goal.target_user_id == BEN


def test_answering_after_the_week_has_passed_is_handled_gracefully(
    known: AppServer, slack: FakeSlack
) -> None:
    reply = pick(known, slack, ANA, week="2026-W46")
    assert "was for 2026-W46" in reply
    assert goals(known) == []


def test_choosing_yourself_or_a_bot_is_refused(known: AppServer, slack: FakeSlack) -> None:
    assert "other than yourself" in pick(known, slack, GIVER)
    assert "active in this workspace" in pick(known, slack, "UBOT")
    assert goals(known) == []


def test_last_weeks_outcome_is_recorded_once_and_only_by_its_owner(
    known: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    goal, _ = checkins.set_goal(known.runtime.db, WS, GIVER, "2026-W47", ANA, clock())

    def click(user: str, outcome: str) -> str:
        before = len(slack.response_url_posts())
        known.client.interactive(
            block_actions_payload(
                action_id=f"checkin_outcome_{outcome}",
                value=str(goal.id),
                user_id=user,
                response_url=slack.response_url(),
            )
        )
        slack.wait_for("response_url", before + 1)
        return slack.response_url_posts()[-1]["text"]

    assert "won" in click(GIVER, "won")
    assert "won" in click(GIVER, "won")
    assert "isn't yours" in click(BEN, "skipped")
    [stored] = goals(known)
    assert stored.outcome == "won"


@pytest.mark.parametrize(
    ("action", "stopped", "paused"), [("stop", True, False), ("pause", False, True)]
)
def test_pause_and_stop_then_resume_from_the_home_tab(
    known: AppServer,
    slack: FakeSlack,
    clock: MovableClock,
    action: str,
    stopped: bool,
    paused: bool,
) -> None:
    known.client.interactive(
        block_actions_payload(
            action_id=f"checkin_{action}",
            value=WEEK,
            user_id=GIVER,
            response_url=slack.response_url(),
        )
    )
    slack.wait_for("views.publish")
    with known.runtime.db.transaction() as session:
        me = session.scalar(select(Person).where(Person.user_id == GIVER))
    assert me is not None and me.checkins_stopped is stopped
    assert (me.checkins_paused_until is not None) is paused
    home = slack.calls_to("views.publish")[-1].params["view"]
    assert "checkin_resume" in str(home)

    known.client.interactive(
        block_actions_payload(
            action_id="checkin_resume", user_id=GIVER, view={"id": "V1", "type": "home"}
        )
    )
    slack.wait_for("views.publish", 2)
    with known.runtime.db.transaction() as session:
        me = session.scalar(select(Person).where(Person.user_id == GIVER))
    assert me is not None and not me.checkins_stopped and me.checkins_paused_until is None


def test_clock_is_the_fixture_week() -> None:
    assert datetime(2026, 11, 25, 15, tzinfo=UTC).isocalendar()[1] == 48
