"""/listen's records: one open question per pair, answers once, the follow-through's states,
and forgetting either person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain import Workspace
from bot.errors import UserError
from bot.services import export, lifecycle, listening
from bot.store.db import Database
from bot.store.models import Listen, OutboxMessage
from tests.conftest import ANA, BEN, GIVER

WS = Workspace("T111")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def ask(db: Database, colleagues: list[str], key: str, now: datetime = NOW) -> list[Listen]:
    request = listening.Request(colleagues, "the close")
    return listening.start(
        db, WS, asker_id=GIVER, request=request, source_key=key, now=now, zone=PARIS
    )


def answered(db: Database) -> Listen:
    [listen] = ask(db, [ANA], "k1")
    return listening.answer(
        db,
        WS,
        listen.id,
        ANA,
        need="numbers",
        obstacle="",
        preference=None,
        answer_key="v1",
        now=NOW,
    )


def test_one_open_question_per_pair_until_answered_or_a_week_old(db: Database) -> None:
    first = ask(db, [ANA, BEN], "k1")
    assert [r.colleague_id for r in first] == [ANA, BEN]
    assert [r.id for r in ask(db, [ANA, BEN], "k1")] == [r.id for r in first]  # a retry
    with pytest.raises(UserError, match=r"on Tuesday 1 December.*from Tuesday 8 December"):
        ask(db, [BEN], "k2", NOW + timedelta(days=6))
    listening.decline(db, WS, first[1].id, BEN, NOW)
    with pytest.raises(UserError, match="said not now"):
        ask(db, [BEN], "k3", NOW + timedelta(days=1))
    listening.answer(
        db,
        WS,
        first[0].id,
        ANA,
        need="x",
        obstacle=None,
        preference=None,
        answer_key="v",
        now=NOW,
    )
    # Answered: Ana may be asked again at once; Ben once a week has passed.
    assert [r.colleague_id for r in ask(db, [ANA], "k4")] == [ANA]
    assert [r.colleague_id for r in ask(db, [BEN], "k5", NOW + timedelta(days=7))] == [BEN]


def test_a_refused_colleague_means_nobody_is_asked(db: Database) -> None:
    ask(db, [ANA], "k1")
    with pytest.raises(UserError):
        ask(db, [BEN, ANA], "k2")
    with db.transaction() as session:
        assert list(session.scalars(select(Listen.colleague_id))) == [ANA]


def test_an_answer_is_recorded_once(db: Database) -> None:
    listen = answered(db)
    assert (listen.need, listen.obstacle, listen.preference) == ("numbers", None, None)
    again = listening.answer(
        db,
        WS,
        listen.id,
        ANA,
        need="numbers",
        obstacle="",
        preference=None,
        answer_key="v1",
        now=NOW,
    )
    assert again.id == listen.id  # the same submission, retried
    with pytest.raises(UserError, match="already answered"):
        listening.answer(
            db,
            WS,
            listen.id,
            ANA,
            need="other",
            obstacle=None,
            preference=None,
            answer_key="v2",
            now=NOW,
        )
    with pytest.raises(UserError, match="Only <@U222>"):
        listening.answer(
            db,
            WS,
            listen.id,
            BEN,
            need="mine",
            obstacle=None,
            preference=None,
            answer_key="v3",
            now=NOW,
        )


def test_not_yet_counts_once_a_week_and_the_third_ends_the_follow_up(db: Database) -> None:
    listen = answered(db)

    def click(answer: str, week: str) -> tuple[str, int, bool]:
        row, changed = listening.follow_up(db, WS, listen.id, GIVER, answer, week, NOW)
        return row.followup, row.not_yet, changed

    assert click("not_yet", "2026-W49") == ("open", 1, True)
    assert click("not_yet", "2026-W49") == ("open", 1, False)  # a double click
    assert click("not_yet", "2026-W50") == ("open", 2, True)
    assert click("not_yet", "2026-W51") == ("dropped", 3, True)
    assert click("not_yet", "2026-W52") == ("dropped", 3, False)
    assert click("yes", "2026-W53") == ("acted", 3, True)  # acting counts whenever it comes
    assert click("yes", "2026-W53") == ("acted", 3, False)
    with pytest.raises(UserError):
        listening.follow_up(db, WS, listen.id, ANA, "yes", "2026-W53", NOW)


@pytest.mark.parametrize("forgotten", [GIVER, ANA])
def test_forget_erases_the_exchange_for_either_person(db: Database, forgotten: str) -> None:
    listen = answered(db)
    ask(db, [BEN], "k9")
    with db.transaction() as session:
        session.add(
            OutboxMessage(
                team_id="T111",
                dedupe_key=f"listen:{listen.id}:answer",
                kind="dm",
                channel_id=GIVER,
                user_id=GIVER,
                payload={"text": "numbers"},
                status="pending",
                attempts=0,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
    assert [r["need"] for r in export.collect(db, WS)["listens"]] == ["numbers", None]
    counts = lifecycle.forget(db, WS, forgotten, NOW)
    assert counts["listens"] == (2 if forgotten == GIVER else 1)
    dump = json.dumps(export.to_json(export.collect(db, WS)))
    assert "numbers" not in dump
    with db.transaction() as session:
        keys = list(session.scalars(select(OutboxMessage.dedupe_key)))
    assert f"listen:{listen.id}:answer" not in keys
