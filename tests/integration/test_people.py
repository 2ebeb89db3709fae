"""Remembering people: what Slack says replaces what it said, the app's own facts stay."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from sqlalchemy import select, update

from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.slack import people
from bot.store.models import Person
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")


def person(runtime: Runtime, user_id: str) -> Person | None:
    with runtime.db.transaction() as session:
        return session.scalar(select(Person).where(Person.user_id == user_id))


def test_remembering_again_updates_what_slack_says_and_keeps_the_apps_own_facts(
    runtime: Runtime, clock: MovableClock
) -> None:
    people.remember(runtime.db, WS, [PersonInfo(ANA, name="ana", tz="Europe/Paris")], clock())
    with runtime.db.transaction() as session:
        session.execute(
            update(Person).values(dm_channel_id="D222", checkins_stopped=True, used_app_at=clock())
        )

    moved = PersonInfo(ANA, name="ana b", tz="Asia/Tokyo", deleted=True)
    people.remember(runtime.db, WS, [moved], clock())

    row = person(runtime, ANA)
    assert row is not None
    assert (row.name, row.tz, row.deleted) == ("ana b", "Asia/Tokyo", True)
    assert (row.dm_channel_id, row.checkins_stopped) == ("D222", True)
    assert row.used_app_at == clock()


def test_the_same_new_person_remembered_at_once_by_many_requests_is_one_row(
    runtime: Runtime, clock: MovableClock
) -> None:
    def remember(n: int) -> None:
        people.remember(runtime.db, WS, [PersonInfo(BEN, name=f"ben {n}")], clock())

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(remember, range(6)))  # any error is raised here

    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(Person).where(Person.user_id == BEN)))
    assert len(rows) == 1 and rows[0].name.startswith("ben ")


def test_looking_up_several_people_remembers_those_slack_knows(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.url)

    found = people.lookup_all(client, runtime.db, WS, [GIVER, ANA, "U404", ANA], clock())

    assert list(found) == [GIVER, ANA, "U404"]
    assert found["U404"] is None
    giver, ana = person(runtime, GIVER), person(runtime, ANA)
    assert giver is not None and giver.tz == "America/New_York"
    assert ana is not None and ana.tz == "Europe/Paris"
    assert person(runtime, "U404") is None
    assert len(slack.calls_to("users.info")) == 3
