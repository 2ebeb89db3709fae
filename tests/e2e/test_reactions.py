"""Appreciation by emoji reaction, through the real `advocate run --http` process, with the
`reaction_added` / `reaction_removed` shapes of Slack's Events API documentation:

    {"type": "reaction_added", "user": "U123ABC456", "reaction": "thumbsup",
     "item_user": "U222222222",
     "item": {"type": "message", "channel": "C123ABC456", "ts": "1360782400.498405"},
     "event_ts": "1360782804.083113"}
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bot.store.db import Database
from bot.store.models import (
    AllTimeStanding,
    Appreciation,
    AppreciationRecipient,
    DailyGiving,
    ReactionThanks,
)
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.helpers import block_text
from tests.e2e.processes import bot_env, running, stored, wait_until
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import SlackClientForTests

CARA = "U444"
ROBOT = "UROBOT"
GONE = "UGONE"


def reaction(
    kind: str, user: str, author: str, channel: str, ts: str, emoji: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": emoji,
        "item_user": author,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": f"{datetime.now(UTC).timestamp():.6f}",
    }


class Reactions:
    def __init__(self, client: SlackClientForTests, slack: FakeSlack, db: Database) -> None:
        self.client = client
        self.slack = slack
        self.db = db
        self.sent = 0

    def send(self, kind: str, user: str, author: str, ts: str, **options: Any) -> None:
        channel = options.pop("channel", "C111")
        emoji = options.pop("emoji", "raised_hands")
        self.sent += 1
        event_id = options.pop("event_id", f"Ev{self.sent:06d}")
        status, _ = self.client.event(
            reaction(kind, user, author, channel, ts, emoji), event_id=event_id
        )
        assert status == 200
        if options.pop("settle", True):
            self.settle()

    def add(self, user: str, author: str, ts: str, **options: Any) -> None:
        self.send("reaction_added", user, author, ts, **options)

    def remove(self, user: str, author: str, ts: str, **options: Any) -> None:
        self.send("reaction_removed", user, author, ts, **options)

    def settle(self) -> None:
        assert wait_until(lambda: stored(self.db) == 0, 30), "a request was not worked"
        assert stored(self.db, "parked") == 0

    def thanks(self, ts: str) -> list[tuple[str, str]]:
        """(giver, recipient) of the appreciations of message `ts`."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(Appreciation.giver_id, AppreciationRecipient.user_id)
                .join(AppreciationRecipient)
                .where(Appreciation.message_ts == ts)
                .order_by(Appreciation.id)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def replies(self, channel: str, ts: str) -> list[str]:
        return [
            m["text"]
            for m in self.slack.messages(channel)
            if m["thread_ts"] == ts and m["ts"] != ts
        ]

    def dms(self, user: str, text: str) -> list[str]:
        return [block_text(m) for m in self.slack.messages(user) if text in block_text(m)]


def test_appreciation_by_reaction(slack: FakeSlack, db: Database, tmp_path: Path) -> None:
    slack.add_user(CARA, name="cara", tz="Europe/Berlin")
    slack.add_user(ROBOT, name="deploybot", is_bot=True)
    slack.add_user(GONE, name="gone", deleted=True)
    slack.set_channel("C999", is_member=False)
    shipped = slack.add_message("C111", user=ANA, text="Shipped the fix <!here> & rolled back")
    env = bot_env(slack, db, ADVOCATE_DAILY_LIMIT="4")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        react = Reactions(bot.client, slack, db)
        try:
            # Gloria's reaction appreciates Ana for that message: linked, quoted, escaped.
            react.add(GIVER, ANA, shipped)
            assert react.thanks(shipped) == [(GIVER, ANA)]
            with db.transaction() as session:
                [thanks] = session.scalars(select(Appreciation))
            assert thanks.reason == "Shipped the fix <!here> & rolled back"
            assert thanks.message_permalink and "p" + shipped.replace(".", "") in (
                thanks.message_permalink
            )
            [reply] = react.replies("C111", shipped)
            assert reply == f":raised_hands: <@{GIVER}> appreciated <@{ANA}> for this message."
            [dm] = react.dms(ANA, "appreciated")
            assert "Shipped the fix &lt;!here&gt; &amp; rolled back" in dm
            assert "<!here>" not in str(slack.messages(ANA))

            # Redelivered, another skin tone, eight at once: still one.
            react.add(GIVER, ANA, shipped, event_id="Ev000001")
            react.add(GIVER, ANA, shipped, emoji="raised_hands::skin-tone-3")
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: react.add(GIVER, ANA, shipped, settle=False), range(8)))
            react.settle()
            assert react.thanks(shipped) == [(GIVER, ANA)]
            assert len(react.dms(ANA, "appreciated")) == 1

            # Two more people react: the one reply names all three.
            react.add(BEN, ANA, shipped)
            react.add(CARA, ANA, shipped)
            [reply] = react.replies("C111", shipped)
            assert reply == (
                f":raised_hands: <@{GIVER}>, <@{BEN}> and <@{CARA}> appreciated <@{ANA}> for "
                "this message."
            )
            assert len(react.dms(ANA, "appreciated")) == 3

            # Ben takes his back within 10 minutes: withdrawn everywhere; and adds it again.
            react.remove(BEN, ANA, shipped)
            assert react.thanks(shipped) == [(GIVER, ANA), (CARA, ANA)]
            [reply] = react.replies("C111", shipped)
            assert f"<@{BEN}>" not in reply and f"<@{CARA}>" in reply
            assert len(react.dms(ANA, "took back their reaction")) == 1
            with db.transaction() as session:
                [standing] = session.scalars(
                    select(AllTimeStanding).where(AllTimeStanding.user_id == ANA)
                )
                ben_today = session.scalar(
                    select(DailyGiving.given).where(DailyGiving.giver_id == BEN)
                )
            assert (standing.received, standing.givers, ben_today) == (2, 2, 0)
            react.add(BEN, ANA, shipped)
            assert sorted(react.thanks(shipped)) == sorted([(GIVER, ANA), (CARA, ANA), (BEN, ANA)])
            assert len(react.dms(ANA, "took back their reaction")) == 0  # edited back
            assert len([m for m in slack.messages(ANA)]) == 3  # one DM per giver

            # Removed after 10 minutes: it stays.
            with db.transaction() as session:
                session.execute(
                    update(ReactionThanks)
                    .where(ReactionThanks.giver_id == GIVER)
                    .values(counted_at=datetime.now(UTC) - timedelta(minutes=11))
                )
            react.remove(GIVER, ANA, shipped)
            assert (GIVER, ANA) in react.thanks(shipped)

            # Not yourself, not a bot's message, not a leaver's, not other emoji.
            own = slack.add_message("C111", user=ANA, text="my own")
            react.add(ANA, ANA, own)
            robot = slack.add_message("C111", user=ROBOT, text="deployed")
            react.add(GIVER, ROBOT, robot)
            gone = slack.add_message("C111", user=GONE, text="bye")
            react.add(GIVER, GONE, gone)
            react.add(GIVER, ANA, own, emoji="thumbsup")
            assert react.thanks(own) == react.thanks(robot) == react.thanks(gone) == []
            assert react.replies("C111", own) == react.replies("C111", robot) == []

            # A channel the app is not in: appreciated all the same, without the text.
            outside = slack.add_message("C999", user=BEN, text="can't be read")
            react.add(GIVER, BEN, outside, channel="C999")
            assert react.thanks(outside) == [(GIVER, BEN)]
            assert len(react.dms(BEN, "appreciated")) == 1

            # The daily limit (4): Gloria has given 2; two more count, then she is told once.
            extra = [slack.add_message("C111", user=BEN, text=f"note {n}") for n in range(4)]
            for ts in extra:
                react.add(GIVER, BEN, ts)
            assert [bool(react.thanks(ts)) for ts in extra] == [True, True, False, False]
            limits = [
                c
                for c in slack.calls_to("chat.postEphemeral")
                if c.params["user"] == GIVER and "didn't count" in c.params["text"]
            ]
            assert len(limits) == 1 and limits[0].params["channel"] == "C111"
        finally:
            log = bot.stop()
            print(log)
    assert "Traceback" not in log and " ERROR " not in log
    with db.transaction() as session:
        counted = session.scalar(
            select(func.count())
            .select_from(ReactionThanks)
            .where(ReactionThanks.status == "counted")
        )
    assert counted == 6


def test_no_reactions_configured_means_reactions_appreciate_nobody(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    shipped = slack.add_message("C111", user=ANA, text="Shipped")
    env = bot_env(slack, db, ADVOCATE_REACTIONS="")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        react = Reactions(bot.client, slack, db)
        react.add(GIVER, ANA, shipped)
        log = bot.stop()
    assert react.thanks(shipped) == [] and react.replies("C111", shipped) == []
    assert slack.messages(ANA) == []
    assert "Traceback" not in log


def test_a_reaction_removed_while_its_add_is_still_being_counted_is_withdrawn(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    said = slack.add_message("C111", user=ANA, text="Rolled back the deploy")
    # Counting the add waits on Slack for a while: the removal comes in the meantime.
    slack.set_delay("conversations.history", 1.5)
    slack.set_delay("conversations.replies", 1.5)
    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        react = Reactions(bot.client, slack, db)
        react.add(GIVER, ANA, said, settle=False)
        assert wait_until(lambda: stored(db) == 1 and counting(db), 10)
        react.remove(GIVER, ANA, said, settle=False)
        react.settle()
        slack.set_delay("conversations.history", 0)
        slack.set_delay("conversations.replies", 0)
    assert react.thanks(said) == []
    with db.transaction() as session:
        [row] = session.scalars(select(ReactionThanks))
        given = session.scalars(select(DailyGiving.given)).all()
    assert row.status == "withdrawn" and row.appreciation_id is None
    assert given in ([], [0])
    assert react.dms(ANA, "appreciated") == [] and react.replies("C111", said) == []


def counting(db: Database) -> bool:
    with db.transaction() as session:
        return session.scalar(select(ReactionThanks.status)) == "pending"
