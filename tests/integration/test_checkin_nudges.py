"""What a check-in brings up for one person: follow-ups on what colleagues said they need,
and one person to thank, never the same one two weeks running, recorded exactly once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.blocks.appreciation import APPRECIATE_PERSON, appreciate_person_value
from bot.blocks.checkin import checkin_message
from bot.blocks.listening import FOLLOWUP_PREFIX, LISTEN_OPEN, followup_value
from bot.domain import PersonInfo, Workspace
from bot.jobs import checkins as checkin_job
from bot.jobs.checkins import queue_checkins
from bot.runtime import Runtime
from bot.services import appreciation, checkins, nudges, outbox, workspaces
from bot.services.people import mark_used
from bot.services.settings import for_workspace
from bot.slack import people
from bot.store.models import Ask, CheckinNudge, InstalledWorkspace, Listen, OutboxMessage
from tests.conftest import MovableClock
from tests.support.blockkit import assert_valid_message_blocks

WS = Workspace("T111")
ME, ANA, BEN, CAT = "U100", "U200", "U300", "U400"
# Mondays at 09:31 UTC: everyone here lives in UTC and is checked in at 09:30.
W48 = datetime(2026, 11, 23, 9, 31, tzinfo=UTC)
W49 = W48 + timedelta(weeks=1)
W50 = W48 + timedelta(weeks=2)
WEEKS = {W48: "2026-W48", W49: "2026-W49", W50: "2026-W50"}
_serial = itertools.count(1)


@pytest.fixture
def team(runtime: Runtime, clock: MovableClock) -> Runtime:
    clock.now = W48 - timedelta(weeks=2)
    workspaces.ensure(runtime.db, WS, "Example", clock())
    names = {ME: "Me", ANA: "Ana", BEN: "Ben", CAT: "Cat"}
    known = [PersonInfo(u, name, tz="UTC") for u, name in names.items()]
    people.remember(runtime.db, WS, known, clock())
    mark_used(runtime.db, WS, [ME, ANA, BEN, CAT], clock())
    return runtime


def kept(runtime: Runtime, asker: str, helper: str, done_at: datetime) -> int:
    """A commitment `helper` kept for `asker`."""
    n = next(_serial)
    with runtime.db.transaction() as session:
        ask = Ask(
            team_id=WS.team_id,
            asker_id=asker,
            helper_id=helper,
            request=f"request {n}",
            channel_id="C111",
            status="done",
            source_key=f"ask-{n}",
            created_at=done_at - timedelta(days=2),
            updated_at=done_at,
            done_at=done_at,
        )
        session.add(ask)
        session.flush()
        return ask.id


def listened(
    runtime: Runtime,
    asker: str,
    colleague: str,
    need: str | None,
    answered_at: datetime | None,
    **columns: Any,
) -> int:
    """`asker` asked `colleague` with /listen; an answer when `answered_at` is given."""
    n = next(_serial)
    values: dict[str, Any] = {
        "status": "answered" if answered_at else "asked",
        "followup": "open",
        "not_yet": 0,
        "created_at": (answered_at or W48) - timedelta(days=1),
    }
    values.update(columns)
    with runtime.db.transaction() as session:
        listen = Listen(
            team_id=WS.team_id,
            asker_id=asker,
            colleague_id=colleague,
            need=need,
            answered_at=answered_at,
            source_key=f"listen-{n}",
            **values,
        )
        session.add(listen)
        session.flush()
        return listen.id


def thank(runtime: Runtime, giver: str, recipient: str, at: datetime) -> None:
    draft = appreciation.Draft(giver, [recipient], "for the help", source_key=f"t{next(_serial)}")
    appreciation.record(runtime.db, WS, draft, PersonInfo(giver), at, daily_limit=10)


def check_in(runtime: Runtime, now: datetime) -> dict[str, dict[str, Any]]:
    """Queue the check-ins due at `now`; each person's message, by person."""
    queue_checkins(runtime, WS, for_workspace(runtime.db, WS, runtime.settings), now)
    week = WEEKS[now]
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"checkin:{week}:%"))
        )
        return {row.user_id: row.payload for row in rows if row.user_id}


def text_of(message: dict[str, Any]) -> str:
    return " ".join(
        b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b
    )


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in message["blocks"]:
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def nudged(message: dict[str, Any]) -> str | None:
    """Whom the check-in suggests thanking, by its Appreciate button."""
    found = [b["value"] for b in buttons(message) if b["action_id"] == APPRECIATE_PERSON]
    assert len(found) <= 1
    return found[0].split("|")[0] if found else None


def nudge_rows(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(CheckinNudge.user_id, CheckinNudge.week, CheckinNudge.target_user_id)
        )
        return sorted((user, week, target) for user, week, target in rows)


# Follow-ups


def test_followup_is_in_the_askers_checkin_only(team: Runtime) -> None:
    listen_id = listened(
        team, ME, ANA, "A week's notice before each launch", W48 - timedelta(days=3)
    )

    sent = check_in(team, W48)

    question = (
        f"<@{ANA}> told you they need “A week's notice before each launch”. Did you act on it?"
    )
    assert question in text_of(sent[ME])
    followup_buttons = [b for b in buttons(sent[ME]) if b["action_id"].startswith(FOLLOWUP_PREFIX)]
    assert [(b["action_id"], b["value"]) for b in followup_buttons] == [
        (FOLLOWUP_PREFIX + answer, followup_value(listen_id, "2026-W48"))
        for answer in ("yes", "not_yet", "skip")
    ]
    for other in (ANA, BEN, CAT):
        assert "notice before each launch" not in str(sent[other]), other
    assert_valid_message_blocks(sent[ME]["blocks"])


def test_at_most_two_followups_oldest_answer_first(team: Runtime) -> None:
    listened(team, ME, BEN, "second", W48 - timedelta(days=5))
    listened(team, ME, CAT, "third", W48 - timedelta(days=1))
    listened(team, ME, ANA, "first", W48 - timedelta(days=9))

    text = text_of(check_in(team, W48)[ME])

    assert text.count("Did you act on it?") == 2
    assert text.index("“first”") < text.index("“second”") and "“third”" not in text


def test_no_followup_for_answers_acted_on_skipped_dropped_declined_or_unanswered(
    team: Runtime,
) -> None:
    before = W48 - timedelta(days=3)
    listened(team, ME, ANA, "acted", before, followup="acted")
    listened(team, ME, ANA, "skipped", before, followup="skipped")
    listened(team, ME, BEN, "dropped", before, followup="dropped", not_yet=3)
    listened(team, ME, BEN, None, None)
    listened(team, ME, CAT, None, None, status="declined")
    listened(team, ME, CAT, "later", W48 + timedelta(hours=1))

    assert "Did you act on it?" not in text_of(check_in(team, W48)[ME])


def test_followup_answered_this_week_comes_back_next_week(team: Runtime) -> None:
    # "Not yet", answered from this week's check-in already (followup_week is this week).
    listened(team, ME, ANA, "the forecast", W48 - timedelta(days=8), followup_week="2026-W48")

    assert "the forecast" not in text_of(check_in(team, W48)[ME])
    assert "“the forecast”. Did you act on it?" in text_of(check_in(team, W49)[ME])


def test_followups_about_people_who_left_or_were_forgotten_are_dropped(team: Runtime) -> None:
    people.remember(team.db, WS, [PersonInfo(CAT, "Cat", deleted=True)], W48)
    listened(team, ME, CAT, "a left person's need", W48 - timedelta(days=2))
    listened(team, ME, "XAB12CD34EF", "a forgotten person's need", W48 - timedelta(days=2))

    assert "Did you act on it?" not in text_of(check_in(team, W48)[ME])


def test_buy_in_goal_not_listened_to_lately_suggests_asking_what_they_need(
    team: Runtime,
) -> None:
    checkins.set_goal(team.db, WS, ME, "2026-W47", ANA, W48 - timedelta(days=6))
    checkins.set_goal(team.db, WS, BEN, "2026-W47", ANA, W48 - timedelta(days=6))
    listened(team, BEN, ANA, None, None, created_at=W48 - timedelta(days=3))

    sent = check_in(team, W48)

    assert f"Want <@{ANA}>'s buy-in? Start by asking what they need." in text_of(sent[ME])
    [ask] = [b for b in buttons(sent[ME]) if b["action_id"] == LISTEN_OPEN]
    assert ask["value"] == ANA and ask["text"]["text"] == "Ask what they need"
    assert LISTEN_OPEN not in str(sent[BEN])  # BEN asked ANA three days ago
    assert_valid_message_blocks(sent[ME]["blocks"])


# Someone to thank


def test_nudge_names_who_kept_most_commitments_and_is_not_repeated_the_next_week(
    team: Runtime,
) -> None:
    ana_asks = [kept(team, ME, ANA, W48 - timedelta(days=d)) for d in (10, 4)]
    kept(team, ME, BEN, W48 - timedelta(days=20))

    first = check_in(team, W48)[ME]
    assert f"<@{ANA}> kept 2 commitments for you, and you haven't thanked them yet." in text_of(
        first
    )
    [button] = [b for b in buttons(first) if b["action_id"] == APPRECIATE_PERSON]
    assert button["value"] == appreciate_person_value(ANA, ana_asks)
    assert button["text"]["text"] == "Appreciate Ana"
    assert_valid_message_blocks(first["blocks"])

    # Nothing changed, but a nudge is never repeated two weeks running: the next one.
    second = check_in(team, W49)[ME]
    assert nudged(second) == BEN
    assert f"<@{BEN}> kept a commitment for you" in text_of(second)
    # Two weeks on, Ana may come back.
    assert nudged(check_in(team, W50)[ME]) == ANA
    assert [r for r in nudge_rows(team) if r[0] == ME] == [
        (ME, "2026-W48", ANA),
        (ME, "2026-W49", BEN),
        (ME, "2026-W50", ANA),
    ]


def test_the_only_candidate_is_left_out_the_week_after_it_was_nudged(team: Runtime) -> None:
    kept(team, ME, ANA, W48 - timedelta(days=3))

    assert nudged(check_in(team, W48)[ME]) == ANA
    second = check_in(team, W49)[ME]
    assert nudged(second) is None
    assert second == checkin_message("2026-W49", None)  # the shared message
    assert nudged(check_in(team, W50)[ME]) == ANA


def test_thanking_them_after_the_commitment_ends_the_nudge(team: Runtime) -> None:
    kept(team, ME, ANA, W48 - timedelta(days=3))
    kept(team, ME, BEN, W48 - timedelta(days=3))
    assert nudged(check_in(team, W48)[ME]) == ANA  # a tie: the longest unthanked, then by id

    thank(team, ME, BEN, W48 + timedelta(days=1))
    thank(team, ME, ANA, W48 + timedelta(days=2))

    assert nudged(check_in(team, W49)[ME]) is None
    assert nudged(check_in(team, W50)[ME]) is None


def test_nudge_says_how_long_ago_they_were_last_thanked(team: Runtime) -> None:
    thank(team, ME, ANA, W48 - timedelta(weeks=5, hours=2))
    kept(team, ME, ANA, W48 - timedelta(weeks=2))
    kept(team, ME, ANA, W48 - timedelta(days=2))
    # A commitment kept before that thanks was thanked by it.
    kept(team, ME, ANA, W48 - timedelta(weeks=6))

    text = text_of(check_in(team, W48)[ME])

    assert f"<@{ANA}> kept 2 commitments for you since you last thanked them, 5 weeks ago." in text


def test_thanks_over_a_year_ago_are_not_looked_for(team: Runtime) -> None:
    with team.db.transaction() as session:
        session.execute(update(InstalledWorkspace).values(installed_at=W48 - timedelta(weeks=150)))
    thank(team, ME, ANA, W48 - nudges.THANKS_LOOKBACK - timedelta(days=3))
    kept(team, ME, ANA, W48 - timedelta(days=2))

    text = text_of(check_in(team, W48)[ME])

    assert (
        f"<@{ANA}> kept a commitment for you, and you haven't thanked them in over a year." in text
    )


def test_commitments_thanked_one_by_one_are_not_counted(team: Runtime) -> None:
    ask_id = kept(team, ME, ANA, W48 - timedelta(days=3))
    with team.db.transaction() as session:
        session.get(Ask, ask_id).thanked_at = W48 - timedelta(days=2)  # type: ignore[union-attr]

    assert nudged(check_in(team, W48)[ME]) is None


def test_buy_in_goal_target_not_thanked_since_is_a_candidate_after_kept_commitments(
    team: Runtime,
) -> None:
    checkins.set_goal(team.db, WS, ME, "2026-W45", BEN, W48 - timedelta(weeks=3))
    # Cat was a goal too, but has been thanked since.
    checkins.set_goal(team.db, WS, ME, "2026-W44", CAT, W48 - timedelta(weeks=4))
    thank(team, ME, CAT, W48 - timedelta(weeks=3))
    kept(team, ME, ANA, W48 - timedelta(days=1))

    assert nudged(check_in(team, W48)[ME]) == ANA
    week_after = check_in(team, W49)[ME]
    assert nudged(week_after) == BEN
    assert f"You wanted <@{BEN}>'s buy-in, and you haven't thanked them yet." in text_of(week_after)


def test_bots_leavers_and_forgotten_people_are_never_suggested(team: Runtime) -> None:
    people.remember(
        team.db,
        WS,
        [PersonInfo("UBOT1", "bot", is_bot=True), PersonInfo("UGONE", "gone", deleted=True)],
        W48,
    )
    for helper in ("UBOT1", "UGONE", "X0123456789"):
        kept(team, ME, helper, W48 - timedelta(days=2))
    checkins.set_goal(team.db, WS, ME, "2026-W46", "UGONE", W48 - timedelta(weeks=2))

    assert nudged(check_in(team, W48)[ME]) is None


def test_commitments_and_goals_older_than_the_look_back_are_not_brought_up(
    team: Runtime,
) -> None:
    kept(team, ME, ANA, W48 - nudges.KEPT_LOOKBACK - timedelta(days=1))
    checkins.set_goal(team.db, WS, ME, "2026-W39", BEN, W48 - timedelta(weeks=9))

    assert nudged(check_in(team, W48)[ME]) is None


def test_people_with_nothing_to_add_share_the_one_message(
    team: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept(team, ME, ANA, W48 - timedelta(days=2))
    built: list[str] = []

    def counted(week: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(week)
        return checkin_message(week, *args, **kwargs)

    monkeypatch.setattr(checkin_job, "checkin_message", counted)
    sent = check_in(team, W48)

    plain = checkin_message("2026-W48", None)
    assert sent[ANA] == sent[BEN] == sent[CAT] == plain and sent[ME] != plain
    assert len(built) == 2  # the shared message, and mine


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", note)


def test_queries_do_not_grow_with_the_number_of_people(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    config = for_workspace(runtime.db, WS, runtime.settings)

    def statements_for(ids: list[str]) -> int:
        people.remember(runtime.db, WS, [PersonInfo(u, tz="UTC") for u in ids], W48)
        mark_used(runtime.db, WS, ids, W48)
        for n, user in enumerate(ids):
            kept(runtime, user, ids[n - 1], W48 - timedelta(days=2))
            listened(runtime, user, ids[n - 2], "a need", W48 - timedelta(days=2))
            checkins.set_goal(
                runtime.db, WS, user, "2026-W47", ids[n - 3], W48 - timedelta(weeks=1)
            )
        with statements(runtime) as seen:
            assert queue_checkins(runtime, WS, config, W48) == len(ids)
        for user in ids:
            checkins.set_participation(runtime.db, WS, user, "stop", W48)
        return len(seen)

    few = statements_for([f"U{5000 + n}" for n in range(5)])
    many = statements_for([f"U{6000 + n}" for n in range(60)])
    assert many == few


# Exactly once


def everyone_has_someone_to_thank(runtime: Runtime, count: int) -> list[str]:
    ids = [f"U{7000 + n}" for n in range(count)]
    people.remember(runtime.db, WS, [PersonInfo(u, tz="UTC") for u in ids], W48)
    mark_used(runtime.db, WS, ids, W48)
    for n, user in enumerate(ids):
        kept(runtime, user, ids[n - 1], W48 - timedelta(days=2))
    return ids


def assert_one_checkin_and_one_nudge_each(runtime: Runtime, ids: list[str]) -> None:
    with runtime.db.transaction() as session:
        keys = list(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.like("checkin:%"))
            )
        )
    assert sorted(keys) == sorted(f"checkin:2026-W48:{u}" for u in ids)
    sent = check_in(runtime, W48)
    rows = [r for r in nudge_rows(runtime) if r[1] == "2026-W48"]
    # One row per person, naming whom their one check-in suggests thanking.
    assert rows == sorted((u, "2026-W48", nudged(sent[u])) for u in ids)
    assert all(target for _, _, target in rows)


def test_queued_twice_records_one_checkin_and_one_nudge_each(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    ids = everyone_has_someone_to_thank(runtime, 30)
    config = for_workspace(runtime.db, WS, runtime.settings)

    assert queue_checkins(runtime, WS, config, W48) == 30
    assert queue_checkins(runtime, WS, config, W48) == 0

    assert_one_checkin_and_one_nudge_each(runtime, ids)


def test_concurrent_queueing_records_one_checkin_and_one_nudge_each(
    runtime: Runtime, clock: MovableClock
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    ids = everyone_has_someone_to_thank(runtime, 120)
    config = for_workspace(runtime.db, WS, runtime.settings)
    counts: list[int] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        counts.append(queue_checkins(runtime, WS, config, W48))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 120
    assert_one_checkin_and_one_nudge_each(runtime, ids)


@pytest.fixture
def rival(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Another process that, once, queues the first of the chunk's people (with a plain
    check-in and no nudge) between this one's look and its insert."""
    done: list[str] = []
    real = nudges.for_checkins

    def racing(session: Any, workspace: Workspace, weeks: Any, *args: Any) -> Any:
        if not done:
            user = min(weeks)
            done.append(user)
            with runtime.db.transaction() as other:
                other.add(
                    outbox.direct_message(
                        workspace,
                        key=f"checkin:{weeks[user]}:{user}",
                        user_id=user,
                        message=checkin_message(weeks[user], None),
                        now=W48,
                    )
                )
        return real(session, workspace, weeks, *args)

    monkeypatch.setattr(checkin_job.nudges, "for_checkins", racing)
    yield done


def test_a_race_lost_midway_records_only_the_nudges_of_checkins_that_went_in(
    runtime: Runtime, clock: MovableClock, rival: list[str]
) -> None:
    workspaces.ensure(runtime.db, WS, "Example", clock())
    ids = everyone_has_someone_to_thank(runtime, 10)
    config = for_workspace(runtime.db, WS, runtime.settings)

    assert queue_checkins(runtime, WS, config, W48) == 9

    [lost] = rival
    sent = check_in(runtime, W48)
    assert nudged(sent[lost]) is None
    assert [r for r in nudge_rows(runtime) if r[0] == lost] == []
    rows = nudge_rows(runtime)
    assert rows == sorted((u, "2026-W48", nudged(sent[u])) for u in ids if u != lost)
