"""Retries are bounded, through the real `advocate run --http`: a request whose work kills
its worker process every time is parked after a few claims, and the person told once; a
request's attempts span a Slack outage of half a minute and more, and what was recorded is
never said not to be."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sqlalchemy import select

from bot.pipeline import MAX_ATTEMPTS
from bot.store.db import Database
from bot.store.models import Appreciation, SlackRequest
from tests.conftest import ANA, GIVER
from tests.e2e.processes import bot_env, running, wait_until
from tests.support.fake_slack import FakeSlack
from tests.support.tcp_proxy import TcpProxy

# Longer than the attempts of a request used to span (about 15 s).
OUTAGE_SECONDS = 25


def the_request(db: Database) -> SlackRequest | None:
    """The first request stored (PostgreSQL returns rows in no set order: an updated row
    may come after one stored later)."""
    with db.transaction() as session:
        return session.scalars(select(SlackRequest).order_by(SlackRequest.id)).first()


def test_a_request_that_kills_its_worker_every_time_is_parked_and_told_once(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    # Its work waits on Slack long enough to be killed in the middle, every time.
    slack.set_delay("users.info", 30)
    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        status, _ = bot.client.command(
            command="/appreciate",
            text=f"<@{ANA}> for the fix",
            user_id=GIVER,
            response_url=slack.response_url("doomed"),
        )
        assert status == 200
        for attempt in range(1, MAX_ATTEMPTS + 1):

            def claimed(n: int = attempt) -> bool:
                row = the_request(db)
                return row is not None and row.attempts == n and row.claimed_by is not None

            assert wait_until(claimed, 30), f"attempt {attempt} was never claimed"
            row = the_request(db)
            assert row is not None and row.claimed_by is not None
            os.kill(int(row.claimed_by.split(":")[1]), signal.SIGKILL)

        def parked() -> bool:
            row = the_request(db)
            return row is not None and row.status == "parked"

        assert wait_until(parked, 30), "the request was never parked"
        assert wait_until(lambda: slack.response_url_posts("doomed"), 10)
        slack.set_delay("users.info", 0)
        # The next request is worked as usual.
        bot.client.command(
            command="/appreciate", text="help", user_id=GIVER, response_url=slack.response_url("ok")
        )
        assert wait_until(lambda: slack.response_url_posts("ok"), 20)
    told = slack.response_url_posts("doomed")
    assert len(told) == 1 and "went wrong" in told[0]["text"], told
    row = the_request(db)
    assert row is not None and row.attempts == MAX_ATTEMPTS + 1


def test_slack_down_for_a_while_during_appreciate_records_and_posts_once_and_says_so(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    proxy = TcpProxy("127.0.0.1", slack.port).start()
    through = f"http://127.0.0.1:{proxy.port}"
    env = bot_env(slack, db, SLACK_API_URL=f"{through}/api/")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        # The app is up and has worked a request (its worker process ready) when Slack goes.
        bot.client.command(
            command="/appreciate", text="help", user_id=GIVER, response_url=slack.response_url()
        )
        assert wait_until(lambda: slack.response_url_posts(), 30)
        proxy.cut()
        status, _ = bot.client.command(
            command="/appreciate",
            text=f"<@{ANA}> for the migration",
            user_id=GIVER,
            response_url=f"{through}/response/outage",
        )
        assert status == 200
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        assert wait_until(lambda: slack.response_url_posts("outage"), 90), "never answered"
        assert wait_until(lambda: slack.messages("C111"), 60), "never posted"
        time.sleep(1)
    told = [post["text"] for post in slack.response_url_posts("outage")]
    assert len(told) == 1 and "recorded" in told[0] and "nothing was" not in told[0], told
    assert len(slack.messages("C111")) == 1 and len(slack.messages(ANA)) == 1
    with db.transaction() as session:
        assert len(list(session.scalars(select(Appreciation)))) == 1


def test_a_request_run_again_after_its_worker_died_does_not_reply_twice(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    # The reply reaches Slack, and the worker dies before it hears back.
    slack.set_delay("response_url", 30)
    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        assert bot.client is not None
        status, _ = bot.client.command(
            command="/appreciate",
            text=f"<@{ANA}> for the fix",
            user_id=GIVER,
            response_url=slack.response_url("once"),
        )
        assert status == 200
        assert wait_until(lambda: len(slack.response_url_posts("once")) == 1, 30)
        row = the_request(db)
        assert row is not None and row.claimed_by is not None
        slack.set_delay("response_url", 0)
        os.kill(int(row.claimed_by.split(":")[1]), signal.SIGKILL)

        def done() -> bool:
            row = the_request(db)
            return row is not None and row.status == "done"

        assert wait_until(done, 30), "the request was never run again"
        time.sleep(0.5)
        assert len([m for m in slack.messages("C111") if "for the fix" in str(m)]) == 1
    with db.transaction() as session:
        assert len(session.scalars(select(Appreciation)).all()) == 1
        assert session.scalars(select(SlackRequest.attempts)).one() == 2
    assert len(slack.response_url_posts("once")) == 1, slack.response_url_posts("once")
