"""Weekly check-ins: each person's own timezone, exactly once, paced, across DST changes."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.domain import PersonInfo, Workspace
from bot.jobs.checkins import queue_checkins
from bot.jobs.tick import tick
from bot.runtime import Runtime
from bot.services import checkins, workspaces
from bot.services.settings import for_workspace
from bot.slack import people
from bot.slack.outbox import BATCH
from bot.store.models import OutboxMessage
from tests.conftest import MovableClock
from tests.support.blockkit import assert_valid_message_blocks
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
ZONES = {
    "UNY": "America/New_York",
    "ULON": "Europe/London",
    "UPAR": "Europe/Paris",
    "UTOK": "Asia/Tokyo",
    "USYD": "Australia/Sydney",
}


@pytest.fixture
def team(runtime: Runtime, slack: FakeSlack, clock: MovableClock) -> Runtime:
    """Five people in five timezones who have used the app."""
    workspaces.ensure(runtime.db, WS, "Example", clock())
    for user_id, zone in ZONES.items():
        slack.add_user(user_id, tz=zone)
    known = [PersonInfo(u, tz=z) for u, z in ZONES.items()]
    people.remember(runtime.db, WS, known, clock())
    from bot.services.people import mark_used

    mark_used(runtime.db, WS, list(ZONES), clock())
    return runtime


def checkins_sent(slack: FakeSlack, user_id: str) -> list[dict]:
    return [m for m in slack.messages(user_id) if "weekly check-in" in m["text"]]


def walk(
    runtime: Runtime,
    slack: FakeSlack,
    clock: MovableClock,
    start: datetime,
    hours: int,
    step_minutes: int = 30,
) -> dict[str, list[datetime]]:
    """Tick every `step_minutes` from `start` for `hours`, recording when each DM went."""
    sent_at: dict[str, list[datetime]] = {}
    seen = {u: 0 for u in ZONES}
    clock.now = start
    while clock.now < start + timedelta(hours=hours):
        tick(runtime)
        for user_id in ZONES:
            count = len(
                [
                    c
                    for c in slack.calls_to("chat.postMessage")
                    if c.params["channel"] in (user_id, "D" + user_id[1:])
                ]
            )
            if count > seen[user_id]:
                sent_at.setdefault(user_id, []).append(clock.now)
                seen[user_id] = count
        clock.now += timedelta(minutes=step_minutes)
    return sent_at


def test_each_person_is_checked_in_once_at_0930_in_their_own_timezone(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    # From Sunday 22 Nov 2026 00:00 UTC through Tuesday: every zone's Monday 09:30.
    sent = walk(team, slack, clock, datetime(2026, 11, 22, 0, 0, tzinfo=UTC), hours=72)

    expected = {
        "UNY": datetime(2026, 11, 23, 14, 30, tzinfo=UTC),
        "ULON": datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        "UPAR": datetime(2026, 11, 23, 8, 30, tzinfo=UTC),
        "UTOK": datetime(2026, 11, 23, 0, 30, tzinfo=UTC),
        "USYD": datetime(2026, 11, 22, 22, 30, tzinfo=UTC),
    }
    assert {u: times for u, times in sent.items()} == {u: [t] for u, t in expected.items()}
    for user_id in ZONES:
        [message] = checkins_sent(slack, user_id)
        assert_valid_message_blocks(message["blocks"])


def test_own_schedule_is_kept_among_neighbours_in_the_same_timezone(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    # UPAR moves to Wednesday 14:00; ULON, in London, moves to Paris' timezone.
    checkins.set_schedule(team.db, WS, "UPAR", "wed", "14:00")
    slack.add_user("ULON", tz="Europe/Paris")  # the tick's people refresh learns it

    sent = walk(team, slack, clock, datetime(2026, 11, 23, 8, 0, tzinfo=UTC), hours=56)

    assert sent["ULON"] == [datetime(2026, 11, 23, 8, 30, tzinfo=UTC)]
    assert sent["UPAR"] == [datetime(2026, 11, 25, 13, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("user_id", "before", "after"),
    [
        # New York leaves daylight saving on Sunday 1 November 2026.
        (
            "UNY",
            datetime(2026, 10, 26, 13, 30, tzinfo=UTC),
            datetime(2026, 11, 2, 14, 30, tzinfo=UTC),
        ),
        # London leaves summer time on Sunday 25 October 2026.
        (
            "ULON",
            datetime(2026, 10, 19, 8, 30, tzinfo=UTC),
            datetime(2026, 10, 26, 9, 30, tzinfo=UTC),
        ),
    ],
)
def test_daylight_saving_change_keeps_the_local_time(
    team: Runtime,
    slack: FakeSlack,
    clock: MovableClock,
    user_id: str,
    before: datetime,
    after: datetime,
) -> None:
    sent = walk(team, slack, clock, before - timedelta(hours=2), hours=24 * 7 + 4, step_minutes=30)
    assert sent[user_id] == [before, after]


def test_paused_stopped_and_non_users_get_no_checkin(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    clock.now = now
    slack.add_user("UNEW", tz="America/New_York")
    people.remember(team.db, WS, [PersonInfo("UNEW", tz="America/New_York")], now)
    checkins.set_participation(team.db, WS, "UNY", "stop", now)
    checkins.set_participation(team.db, WS, "ULON", "pause", now - timedelta(days=1))

    config = for_workspace(team.db, WS, team.settings)
    audience = {m.user_id for m in checkins.audience(team.db, WS, config, now)}
    assert audience == {"UPAR", "UTOK", "USYD"}

    checkins.set_participation(team.db, WS, "ULON", "resume", now)
    audience = {m.user_id for m in checkins.audience(team.db, WS, config, now)}
    assert "ULON" in audience and "UNEW" not in audience


def test_all_members_audience_excludes_bots_leavers_and_guests(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    slack.add_user("UGUEST", is_restricted=True)
    slack.add_user("UGONE", deleted=True)
    slack.add_user("UPLAIN")
    people.refresh_all(slack_client(team), team.db, WS, clock())
    config = replace(for_workspace(team.db, WS, team.settings), checkin_audience="all")

    audience = {m.user_id for m in checkins.audience(team.db, WS, config, clock())}

    assert "UPLAIN" in audience and set(ZONES) <= audience
    assert not audience & {"UGUEST", "UGONE", "UBOT", "USLACKBOT"}


def test_channel_audience_is_the_channel_members(team: Runtime, clock: MovableClock) -> None:
    config = replace(
        for_workspace(team.db, WS, team.settings),
        checkin_audience="channel",
        checkin_channel="C777",
    )
    audience = checkins.audience(team.db, WS, config, clock(), channel_members={"UNY", "UTOK"})
    assert {m.user_id for m in audience} == {"UNY", "UTOK"}


def slack_client(runtime: Runtime) -> WebClient:
    return runtime.clients.client_for("T111")


def test_last_weeks_goal_is_asked_about(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    checkins.set_goal(team.db, WS, "ULON", "2026-W47", "UPAR", clock())
    clock.now = datetime(2026, 11, 23, 9, 31, tzinfo=UTC)
    tick(team)
    [message] = checkins_sent(slack, "ULON")
    text = str(message["blocks"])
    assert "How did it go with <@UPAR>" in text
    assert_valid_message_blocks(message["blocks"])


def test_five_thousand_people_are_queued_once_and_sent_in_paced_batches(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    everyone = [PersonInfo(f"U{n:05d}", tz="Europe/Paris") for n in range(5000)]
    people.remember(runtime.db, WS, everyone, clock())
    from bot.services.people import mark_used

    mark_used(runtime.db, WS, [p.user_id for p in everyone], clock())
    clock.now = datetime(2026, 11, 23, 8, 31, tzinfo=UTC)  # 09:31 in Paris
    config = for_workspace(runtime.db, WS, runtime.settings)

    assert queue_checkins(runtime, WS, config, clock()) == 5000
    # A restart in the middle of the fan-out, or a second process: nobody is queued twice.
    assert queue_checkins(runtime, WS, config, clock()) == 0

    with runtime.db.transaction() as session:
        queued = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.dedupe_key.like("checkin:%"))
        )
    assert queued == 5000
    sent = runtime.sender.deliver_due()
    assert len(sent) == BATCH and all(d.status == "sent" for d in sent)


def test_rate_limited_fanout_stops_the_batch_and_resumes_later(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    clock.now = datetime(2026, 11, 23, 14, 31, tzinfo=UTC)  # everyone is due by now
    config = for_workspace(team.db, WS, team.settings)
    queue_checkins(team, WS, config, clock())
    slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)

    first = team.sender.deliver_due()
    assert [d.status for d in first][-1] == "pending" and len(first) < len(ZONES)

    clock.now += timedelta(minutes=5)
    team.sender.deliver_due()
    for user_id in ZONES:
        assert len(checkins_sent(slack, user_id)) == 1


def test_concurrent_ticks_send_each_checkin_once(
    team: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    clock.now = datetime(2026, 11, 23, 14, 31, tzinfo=UTC)
    threads = [threading.Thread(target=tick, args=(team,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tick(team)
    for user_id in ZONES:
        assert len(checkins_sent(slack, user_id)) == 1, user_id


def test_a_channel_audience_is_paged_only_when_a_check_in_is_due(
    team: Runtime, slack: FakeSlack, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.jobs import tick as ticks
    from bot.services import settings as workspace_settings

    monkeypatch.setattr(ticks, "_members", {})  # what an earlier test's ticks remembered

    before = for_workspace(team.db, WS, team.settings)
    overrides = {"checkin_audience": "channel", "checkin_channel": "C777"}
    workspace_settings.save(team.db, WS, "UADMIN", overrides, before, clock())
    slack.set_response("conversations.members", {"ok": True, "members": list(ZONES)})

    clock.now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday: nobody's is due
    for _ in range(3):
        tick(team)
    assert slack.calls_to("conversations.members") == []

    clock.now = datetime(2026, 11, 30, 17, 45, tzinfo=UTC)  # Monday 09:30 has come everywhere
    tick(team)
    tick(team)
    assert len(slack.calls_to("conversations.members")) == 1
    assert {uid for uid in ZONES if checkins_sent(slack, uid)} == set(ZONES)
