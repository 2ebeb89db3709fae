"""The year-end recap's rules: who carried whom, what is counted, who is never named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.blocks.recap import THANK_THEM, recap_message, recap_text
from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, asks, checkins, recap
from bot.slack import people
from bot.store.db import Database
from tests.support.blockkit import assert_valid_message_blocks

WS = Workspace("T111")
AT = datetime(2026, 6, 2, 10, tzinfo=UTC)
ME, ANA, BEN, CARA, DEV, GONE = "UME", "UANA", "UBEN", "UCARA", "UDEV", "UGONE"


def thank(db: Database, giver: str, to: str, n: int, *, private: bool = False, at=AT) -> None:
    for i in range(n):
        appreciation.record(
            db,
            WS,
            appreciation.Draft(
                giver, [to], "thanks", is_private=private, source_key=f"{giver}{to}{at}{i}{private}"
            ),
            PersonInfo(giver),
            at + timedelta(minutes=i),
            daily_limit=100,
        )


def kept(db: Database, asker: str, helper: str, n: int, *, at=AT) -> None:
    for i in range(n):
        ask, _ = asks.start(
            db,
            WS,
            asker_id=asker,
            helper_id=helper,
            request="help",
            channel_id="C1",
            due_on=date(2026, 12, 31),
            timezone="UTC",
            source_key=f"{asker}{helper}{at}{i}",
            now=at,
        )
        asks.apply(db, WS, ask.id, helper, "done", at + timedelta(hours=1))


def test_the_three_who_carried_you_most_by_what_they_did(db: Database) -> None:
    kept(db, ME, ANA, 2)  # 4
    thank(db, ME, BEN, 3)  # 3
    goal, _ = checkins.set_goal(db, WS, ME, "2026-W20", CARA, AT)  # won: 3, thanked once: 4
    checkins.set_outcome(db, WS, ME, goal.id, "won", AT)
    thank(db, ME, CARA, 1)
    thank(db, ME, DEV, 1)  # 1: fourth, not shown
    kept(db, ANA, ME, 1)  # kept by me for Ana, on time
    thank(db, ANA, ME, 2)

    mine = recap.build(db, WS, 2026, ME, "UTC")

    assert [(c.user_id, c.score) for c in mine.carried] == [(ANA, 4), (CARA, 4), (BEN, 3)]
    assert (mine.given, mine.received, mine.kept_on_time) == (5, 2, 1)
    message = recap_message(mine)
    assert_valid_message_blocks(message["blocks"])
    [thank_them] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (thank_them["action_id"], thank_them["value"]) == (
        THANK_THEM,
        f"2026|{ANA},{CARA},{BEN}",
    )
    assert "2 commitments kept for you" in str(message)


def test_leavers_and_other_years_are_not_counted_or_named(db: Database) -> None:
    thank(db, ME, GONE, 5)
    people.remember(db, WS, [PersonInfo(GONE, deleted=True)], AT)
    thank(db, ME, ANA, 1)
    thank(db, ME, BEN, 4, at=datetime(2025, 12, 31, 23, tzinfo=UTC))
    thank(db, ME, BEN, 4, at=datetime(2027, 1, 1, 1, tzinfo=UTC))

    mine = recap.build(db, WS, 2026, ME, "UTC")

    assert [c.user_id for c in mine.carried] == [ANA]
    assert mine.given == 6
    # In Tokyo, 2026 began at 15:00 UTC on 31 December 2025.
    assert recap.build(db, WS, 2026, ME, "Asia/Tokyo").given == 10


def test_private_appreciation_counts_only_in_the_recaps_of_the_two(db: Database) -> None:
    thank(db, ANA, BEN, 3, private=True)
    recaps = recap.build_many(db, WS, 2026, [ANA, BEN, ME], "UTC")
    assert [c.user_id for c in recaps[ANA].carried] == [BEN]
    assert recaps[BEN].received == 3
    assert recaps[ME].empty and recaps[ME].carried == []
    assert "there is no recap" in recap_text(recaps[ME], str)


def test_the_recap_comes_from_the_recap_date_for_sixty_days() -> None:
    dec10 = (12, 10)
    assert recap.due_year(date(2026, 12, 9), dec10) is None
    assert recap.due_year(date(2026, 12, 10), dec10) == 2026
    assert recap.due_year(date(2027, 1, 4), dec10) == 2026  # across the year boundary
    assert recap.due_year(date(2027, 2, 7), dec10) == 2026
    assert recap.due_year(date(2027, 2, 8), dec10) is None
    assert recap.due_year(date(2027, 3, 1), (2, 29)) == 2027  # no 29 February: the 28th
