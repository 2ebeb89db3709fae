"""/listen as the world sends it to the real `advocate run` process: eight at once, the same
request twice, eight answers and eight clicks at once, a question a week old."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.domain import Workspace
from bot.services import workspaces
from bot.store.db import Database
from bot.store.models import Listen, OutboxMessage
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.helpers import block_text
from tests.e2e.processes import bot_env, running, stored, wait_until
from tests.e2e.test_cli import advocate, clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    SlackClientForTests,
    block_actions_payload,
    slash_command_body,
    view_submission_payload,
)

CARA = "U444"


def rows(db: Database) -> list[Listen]:
    with db.transaction() as session:
        return list(session.scalars(select(Listen).order_by(Listen.id)))


def settled(db: Database) -> None:
    assert wait_until(lambda: stored(db) == 0, 30), "a request was not worked"
    assert stored(db, "parked") == 0


def dms(slack: FakeSlack, user_id: str, text: str) -> list[str]:
    return [
        block_text(m) or m["text"]
        for m in slack.messages(user_id)
        if text in (block_text(m) or m["text"])
    ]


def test_listen_holds_under_bursts_retries_and_time(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    slack.add_user(CARA, name="cara", tz="Europe/Berlin")
    week_old = datetime.now(UTC) - timedelta(days=8)
    with db.transaction() as session:
        session.add(
            Listen(
                team_id="T111",
                asker_id=GIVER,
                colleague_id=CARA,
                status="asked",
                open_key=f"{GIVER}:{CARA}",
                followup="open",
                not_yet=0,
                source_key="command:old",
                created_at=week_old,
            )
        )
    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        client = bot.client
        assert isinstance(client, SlackClientForTests)
        try:
            # Eight /listen to Ana at once: one question, seven told it is waiting.
            def listen(n: int) -> int:
                status, _ = client.command(
                    command="/listen",
                    text=f"<@{ANA}>",
                    user_id=GIVER,
                    response_url=slack.response_url(f"burst-{n}"),
                )
                return status

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(listen, range(8))) == [200] * 8
            settled(db)
            [to_ana] = rows(db)[1:]
            assert to_ana.colleague_id == ANA
            told = [p["text"] for n in range(8) for p in slack.response_url_posts(f"burst-{n}")]
            assert sum(t.startswith("Sent.") for t in told) == 1
            assert sum(f"You asked <@{ANA}> what they need on" in t for t in told) == 7
            assert len(dms(slack, ANA, "What do you need from")) == 1

            # The same request delivered twice (Slack's retry): one question to Ben.
            body = slash_command_body(
                command="/listen",
                text=f"<@{BEN}> about handoffs",
                user_id=GIVER,
                response_url=slack.response_url("twice"),
            )
            for _ in range(2):
                status, _, _ = client.post(client.path, body, "application/x-www-form-urlencoded")
                assert status == 200
            settled(db)
            assert [r.colleague_id for r in rows(db)[2:]] == [BEN]
            assert len(dms(slack, BEN, "What do you need from")) == 1

            # A question unanswered for over a week no longer stands in the way.
            status, _ = client.command(
                command="/listen",
                text=f"<@{CARA}>",
                user_id=GIVER,
                response_url=slack.response_url("cara"),
            )
            settled(db)
            [sent] = slack.response_url_posts("cara")
            assert sent["text"].startswith("Sent."), sent
            old, *_, new = rows(db)
            assert (old.open_key, new.colleague_id, new.open_key) == (
                None,
                CARA,
                f"{GIVER}:{CARA}",
            )

            # Eight answer forms submitted at once (a double click opened each): one answer.
            def answer(n: int) -> int:
                payload = view_submission_payload(
                    callback_id="listen_answer_modal",
                    values={"need": {"value": {"type": "plain_text_input", "value": f"need {n}"}}},
                    private_metadata=json.dumps({"listen_id": to_ana.id}),
                    user_id=ANA,
                    view_id=f"VANSWER{n}",
                )
                status, _ = client.interactive(payload)
                return status

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(answer, range(8))) == [200] * 8
            settled(db)
            [answered] = [r for r in rows(db) if r.id == to_ana.id]
            assert answered.status == "answered" and answered.need.startswith("need ")
            assert len(dms(slack, GIVER, f"<@{ANA}> told you what they need")) == 1
            assert len(dms(slack, ANA, "already answered")) == 7

            # "I'll act on it" clicked eight times at once: Ana is told once.
            def will_act(n: int) -> int:
                status, _ = client.interactive(
                    block_actions_payload(
                        action_id="listen_will_act",
                        value=str(to_ana.id),
                        user_id=GIVER,
                        response_url=slack.response_url(f"act-{n}"),
                    )
                )
                return status

            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(will_act, range(8))) == [200] * 8
            settled(db)
            assert len(dms(slack, ANA, "means to act on it")) == 1
            replies = [p["text"] for n in range(8) for p in slack.response_url_posts(f"act-{n}")]
            assert sum(r.startswith("Noted.") for r in replies) == 1
            with db.transaction() as session:
                keys = list(
                    session.scalars(
                        select(OutboxMessage.dedupe_key).where(
                            OutboxMessage.dedupe_key.startswith(f"listen:{to_ana.id}:")
                        )
                    )
                )
            assert sorted(keys) == sorted(
                f"listen:{to_ana.id}:{k}" for k in ("ask", "answer", "thanks", "will-act")
            )
        finally:
            log = bot.stop()
            print(log)
    assert "Traceback" not in log and " ERROR " not in log


SECRET = "the forecast two days before the board"


def test_an_answer_reaches_only_the_asker_in_every_read_path(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    """Ana's answer to Gloria is in Gloria's DM and the workspace's export, and nowhere
    else: not the channel, the digest, top, stats, Ana's or Ben's Home, or another
    workspace's export."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(
            Listen(
                team_id="T111",
                asker_id=GIVER,
                colleague_id=ANA,
                status="asked",
                open_key=f"{GIVER}:{ANA}",
                followup="open",
                not_yet=0,
                source_key="command:privacy",
                created_at=now,
            )
        )
        # Another workspace in the same database, with an answer of its own.
        session.add(
            Listen(
                team_id="T222",
                asker_id="U900",
                colleague_id="U901",
                status="answered",
                need="their own numbers",
                followup="open",
                not_yet=0,
                source_key="command:theirs",
                created_at=now,
                answered_at=now,
            )
        )
    workspaces.ensure(db, Workspace("T222"), "Other", now)
    [question, _] = rows(db)
    env = bot_env(slack, db, ADVOCATE_DIGEST_CHANNEL="C111")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        client = bot.client
        assert isinstance(client, SlackClientForTests)
        try:
            answer = view_submission_payload(
                callback_id="listen_answer_modal",
                values={"need": {"value": {"type": "plain_text_input", "value": SECRET}}},
                private_metadata=json.dumps({"listen_id": question.id}),
                user_id=ANA,
                view_id="VSECRET",
            )
            assert client.interactive(answer)[0] == 200
            client.command(
                command="/appreciate",
                text=f"<@{ANA}> for the close",
                user_id=GIVER,
                response_url=slack.response_url("given"),
            )
            for user, text in ((BEN, "top all"), (BEN, f"stats <@{ANA}>"), (ANA, "stats")):
                client.command(
                    command="/appreciate",
                    text=text,
                    user_id=user,
                    response_url=slack.response_url("reads"),
                )
            # Requests run side by side: the Homes are opened once the answer is recorded.
            settled(db)
            for user in (ANA, BEN, GIVER):
                client.event({"type": "app_home_opened", "user": user, "tab": "home"})
            settled(db)
        finally:
            log = bot.stop()
            print(log)
    assert "Traceback" not in log and " ERROR " not in log
    assert len(dms(slack, GIVER, SECRET)) == 1
    week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
    digest = advocate("digest", "preview", "--week", week, "--json", env=env, cwd=tmp_path)
    assert digest.returncode == 0 and "internal advocates: <@U222>" in digest.stdout, digest.stderr
    admin = clean_env(DATABASE_URL=db.url)
    ours = advocate("export", "--team", "T111", env=admin, cwd=tmp_path)
    theirs = advocate("export", "--team", "T222", env=admin, cwd=tmp_path)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert [row["need"] for row in json.loads(ours.stdout)["listens"]] == [SECRET]
    assert [row["need"] for row in json.loads(theirs.stdout)["listens"]] == ["their own numbers"]
    assert "their own numbers" not in ours.stdout

    def gloria_alone(call: Any) -> bool:
        if call.method == "chat.postMessage":
            return call.params.get("channel") == GIVER
        return call.method == "views.publish" and call.params.get("user_id") == GIVER

    # Her DM, and her Home's "your people" (what Ana said she needs), once each: in either
    # order, since the DM goes out from the outbox while another worker may be publishing
    # her Home, opened once the answer was recorded.
    assert sorted(
        c.method for c in slack.calls if gloria_alone(c) and SECRET in json.dumps(c.params)
    ) == [
        "chat.postMessage",
        "views.publish",
    ]
    elsewhere = [json.dumps(call.params) for call in slack.calls if not gloria_alone(call)]
    assert len(slack.response_url_posts("reads")) == 3
    assert len(slack.calls_to("views.publish")) == 3
    assert not [text for text in elsewhere if "forecast two days" in text]
    assert "forecast two days" not in digest.stdout + theirs.stdout
