"""Uninstall, purge, leavers, export and forget."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.domain import PersonInfo, Workspace
from bot.jobs.tick import tick
from bot.runtime import Runtime
from bot.services import (
    appreciation,
    asks,
    checkins,
    digest,
    export,
    lifecycle,
    steps,
    workspaces,
)
from bot.services.people import mark_used
from bot.services.settings import for_workspace
from bot.slack import people
from bot.store.models import Appreciation, AppreciationRecipient, Ask, Base, Person
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
OTHER = Workspace("T222")


def give(
    runtime: Runtime, ws: Workspace, giver: str, recipients: list[str], reason: str, key: str
) -> None:
    draft = appreciation.Draft(giver, recipients, reason, source_key=key)
    appreciation.record(runtime.db, ws, draft, PersonInfo(giver), runtime.clock(), daily_limit=99)


def rows_of(runtime: Runtime, team: str) -> int:
    """The workspace's rows, but for the revoked tokens' hashes kept to refuse them."""
    total = 0
    with runtime.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if "team_id" in table.c and table.name != "bot_tokens":
                total += connection.execute(
                    select(func.count()).select_from(table).where(table.c.team_id == team)
                ).scalar_one()
    return total


def test_uninstall_stops_scheduled_work_and_purges_after_the_retention(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    for ws in (WS, OTHER):
        workspaces.ensure(runtime.db, ws, "x", clock())
        give(runtime, ws, GIVER, [ANA], "thanks", f"k-{ws.team_id}")
    lifecycle.uninstalled(runtime.db, WS, clock())

    assert [w.team_id for w in workspaces.active(runtime.db)] == ["T222"]
    assert rows_of(runtime, "T111") > 0

    clock.now += timedelta(days=29)
    tick(runtime)
    assert rows_of(runtime, "T111") > 0
    clock.now += timedelta(days=2)
    tick(runtime)
    assert rows_of(runtime, "T111") == 0
    assert rows_of(runtime, "T222") > 0


def test_reinstalling_within_the_retention_keeps_the_data(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    give(runtime, WS, GIVER, [ANA], "thanks", "k1")
    lifecycle.uninstalled(runtime.db, WS, clock())
    clock.now += timedelta(days=10)
    workspaces.ensure(runtime.db, WS, "x", clock())
    clock.now += timedelta(days=40)
    tick(runtime)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count(Appreciation.id))) == 1


def test_a_person_who_left_gets_no_checkin_and_is_not_named_but_still_counts(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    people.remember(runtime.db, WS, [PersonInfo(GIVER), PersonInfo(ANA), PersonInfo(BEN)], clock())
    mark_used(runtime.db, WS, [GIVER, ANA, BEN], clock())
    give(runtime, WS, BEN, [ANA], "for the audit", "k1")
    give(runtime, WS, GIVER, [BEN], "for the demo", "k2")
    people.remember(runtime.db, WS, [PersonInfo(BEN, deleted=True)], clock())

    config = for_workspace(runtime.db, WS, runtime.settings)
    assert BEN not in {m.user_id for m in checkins.audience(runtime.db, WS, config, clock())}
    built = digest.build(
        runtime.db, WS, digest.window(runtime.db, WS, "2026-W48", config), config.timezone
    )
    assert built is not None
    assert [a.user_id for a in built.advocates] == [ANA]  # Ben is not named...
    assert built.advocates[0].givers == [] and built.advocates[0].quote_giver == ""
    assert built.total == 2  # ...but his thanks to Ana still count


def test_forget_erases_a_person_and_keeps_other_peoples_counts(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "x", clock())
    people.remember(runtime.db, WS, [PersonInfo(BEN, name="ben")], clock())
    give(runtime, WS, BEN, [ANA], "Ben's words about Ana", "k1")
    give(runtime, WS, GIVER, [BEN, ANA], f"both of you, <@{BEN}> and Ana", "k2")
    ask, _ = asks.start(
        runtime.db,
        WS,
        asker_id=BEN,
        helper_id=ANA,
        request="Ben's request",
        channel_id="C1",
        due_on=date(2026, 12, 4),
        timezone="UTC",
        source_key="a1",
        now=clock(),
    )
    checkins.set_goal(runtime.db, WS, BEN, "2026-W48", ANA, clock())
    checkins.set_goal(runtime.db, WS, GIVER, "2026-W48", BEN, clock())

    first = lifecycle.forget(runtime.db, WS, BEN, clock())
    again = lifecycle.forget(runtime.db, WS, BEN, clock())

    # Ben's own appreciation, and Gloria's that named him.
    assert first["appreciations"] == 2 and "appreciations" not in again
    dump = json.dumps(export.to_json(export.collect(runtime.db, WS)))
    assert BEN not in dump and "Ben's" not in dump
    with runtime.db.transaction() as session:
        assert session.scalar(select(Person).where(Person.user_id == BEN)) is None
        ana_received = session.scalar(
            select(func.count(AppreciationRecipient.id)).where(AppreciationRecipient.user_id == ANA)
        )
        stored = session.get(Ask, ask.id)
    assert ana_received == 2  # Ana's counts are intact
    assert stored is not None and stored.helper_id == ANA and stored.status == "asked"
    stats = appreciation.stats(runtime.db, WS, GIVER, clock(), "UTC", viewer=GIVER)
    assert stats.given["all"] == 1


def test_export_has_every_kind_and_only_this_workspace(
    runtime: Runtime, clock: MovableClock, tmp_path: Path
) -> None:
    give(runtime, WS, GIVER, [ANA], "ours", "k1")
    give(runtime, OTHER, GIVER, [ANA], "theirs", "k2")
    ask, _ = asks.start(
        runtime.db,
        WS,
        asker_id=GIVER,
        helper_id=ANA,
        request="review",
        channel_id="C1",
        due_on=None,
        timezone="UTC",
        source_key="a1",
        now=clock(),
    )
    asks.apply(runtime.db, WS, ask.id, ANA, "commit", clock(), committed_on=date(2026, 12, 1))
    asks.raise_obstacle(runtime.db, WS, ask.id, ANA, "no access", clock())
    checkins.set_goal(runtime.db, WS, GIVER, "2026-W48", ANA, clock())

    data = export.collect(runtime.db, WS)
    assert set(data) == set(export.KINDS)
    assert [a["reason"] for a in data["appreciations"]] == ["ours"]
    assert data["commitments"][0]["committed_on"] == date(2026, 12, 1)
    assert data["obstacles"][0]["description"] == "no access"
    files = export.to_csv_files(data, tmp_path / "out")
    assert sorted(p.name for p in files) == sorted(f"{k}.csv" for k in export.KINDS)
    assert "theirs" not in (tmp_path / "out" / "appreciations.csv").read_text()


def test_uninstall_erases_the_tokens_of_its_open_step_runs_and_no_others(
    runtime: Runtime, clock: MovableClock
) -> None:
    for ws in (WS, OTHER):
        run = {
            "type": "event_callback",
            "team_id": ws.team_id,
            "event": {
                "type": "function_executed",
                "function": {"callback_id": "appreciate"},
                "function_execution_id": "Fx1",
                "bot_access_token": f"xwfp-{ws.team_id}",
            },
        }
        stripped, row = steps.capture(run, ws.team_id, clock())
        assert row is not None and "bot_access_token" not in stripped["event"]
        with runtime.db.engine.begin() as connection:
            steps.keep(connection, row)
            steps.keep(connection, {**row, "token": "xwfp-again"})  # a redelivery

    lifecycle.uninstalled(runtime.db, WS, clock())

    gone, kept = steps.find(runtime.db, WS, "Fx1"), steps.find(runtime.db, OTHER, "Fx1")
    assert gone is not None and (gone.token, gone.status) == (None, "failed")
    assert kept is not None and (kept.token, kept.status) == ("xwfp-T222", "open")
