"""`advocate forget` erases a person from every table, through the real processes: their
words and their user ID are nowhere after it, not in the messages the app sent, not in the
requests it stored, and on SQLite not in the database file's bytes either."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.domain import Workspace
from bot.services import teams
from bot.store.db import Database
from bot.store.models import Ask, Base, Listen, OutboxMessage
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.processes import Running, bot_env, running, stored, wait_until
from tests.e2e.test_cli import advocate
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import view_submission_payload

MARK = "Zanzibar"  # in everything Gloria (GIVER) writes


def command(bot: Running, slack: FakeSlack, name: str, text: str, user: str, key: str) -> str:
    assert bot.client is not None
    status, _ = bot.client.command(
        command=name, text=text, user_id=user, response_url=slack.response_url(key)
    )
    assert status == 200
    assert wait_until(lambda: slack.response_url_posts(key), 20), f"no answer to {name} {text}"
    return str(slack.response_url_posts(key)[-1]["text"])


def submit(bot: Running, callback_id: str, values: dict[str, Any], meta: dict, user: str) -> None:
    assert bot.client is not None
    payload = view_submission_payload(
        callback_id=callback_id,
        values=values,
        private_metadata=json.dumps(meta),
        user_id=user,
        view_id=f"V{callback_id[:6].upper()}",
    )
    assert bot.client.interactive(payload)[0] == 200


def text_input(name: str, value: str) -> dict[str, Any]:
    return {name: {"value": {"type": "plain_text_input", "value": value}}}


def settled(db: Database) -> None:
    def done() -> bool:
        with db.transaction() as session:
            waiting = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status == "pending")
            ).all()
        return stored(db) == 0 and not waiting

    assert wait_until(done, 30), "requests or messages still waiting"


def now() -> datetime:
    return datetime.now(UTC)


def everything(db: Database) -> list[tuple[str, str]]:
    """(table, row) for every row of every table, as text."""
    rows = []
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                rows.append((table.name, json.dumps([str(v) for v in row], ensure_ascii=False)))
    return rows


def test_forget_leaves_neither_their_words_nor_their_id_in_any_table(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    said = slack.add_message("C111", user=GIVER, text=f"{MARK}: the migration is done")
    env = bot_env(slack, db)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        # Gloria thanks Ana, asks her for something, and is thanked and asked in return.
        command(bot, slack, "/appreciate", f"<@{ANA}> for the {MARK} renewal", GIVER, "g1")
        command(bot, slack, "/ask", f"<@{ANA}> review the {MARK} quote", GIVER, "g2")
        command(bot, slack, "/appreciate", f"<@{GIVER}> for the launch", ANA, "a1")
        command(bot, slack, "/ask", f"<@{GIVER}> check the deck", ANA, "a2")
        settled(db)
        with db.transaction() as session:
            helped = session.scalars(select(Ask.id).where(Ask.helper_id == GIVER)).one()
        # As the helper, Gloria raises an obstacle in her own words.
        values = text_input("description", f"no {MARK} access")
        submit(bot, "ask_obstacle_modal", values, {"ask_id": helped}, GIVER)
        # Ana asks what Gloria needs; Gloria answers.
        command(bot, slack, "/listen", f"<@{GIVER}>", ANA, "a3")
        settled(db)
        with db.transaction() as session:
            listen = session.scalars(select(Listen.id)).one()
        answer = text_input("need", f"{MARK} notice")
        submit(bot, "listen_answer_modal", answer, {"listen_id": listen}, GIVER)
        # A workflow's step asks Gloria for something; she declines in her own words, which
        # end the step's run.
        assert bot.client is not None
        step = slack.execute(
            "ask_for_commitment",
            {"asker": ANA, "helper": GIVER, "request": "sign the form", "channel": "C111"},
            output_parameters=[{"name": "helper", "type": "slack#/types/user_id"}],
        )
        assert bot.client.event(step)[0] == 200
        settled(db)
        with db.transaction() as session:
            stepped = session.scalars(select(Ask.id).where(Ask.request == "sign the form")).one()
        reason = text_input("reason", f"no {MARK} time")
        submit(bot, "ask_decline_modal", reason, {"ask_id": stepped}, GIVER)
        settled(db)
        assert slack.execution(step["function_execution_id"]).error == f"no {MARK} time"
        # Ben thanks Gloria's message with a reaction: its words become the reason.
        reaction = {
            "type": "reaction_added",
            "user": BEN,
            "reaction": "raised_hands",
            "item_user": GIVER,
            "item": {"type": "message", "channel": "C111", "ts": said},
            "event_ts": said,
        }
        assert bot.client.event(reaction)[0] == 200
        settled(db)
    # One more command, stored and acknowledged while no worker runs: still waiting.
    with running(env, tmp_path, "run", "--http", "--no-scheduler", "--no-workers") as bot:
        assert bot.client is not None
        waiting = bot.client.command(command="/appreciate", text=f"<@{BEN}> {MARK}", user_id=GIVER)
        assert waiting[0] == 200 and stored(db) == 1
    # Gloria is in a team, as Slack's user groups said.
    teams.replace(
        db, Workspace("T111"), [teams.TeamInfo("SSALES", "sales", "Sales", [GIVER, ANA])], now()
    )
    before = everything(db)
    assert any(MARK in row for _, row in before) and any(GIVER in row for _, row in before)
    sqlite_file = Path(db.url.removeprefix("sqlite:///")) if db.url.startswith("sqlite") else None
    if sqlite_file:
        # As SQLite does by itself once its log grows: the words are in the file now.
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        assert MARK.encode() in sqlite_file.read_bytes()

    result = advocate("forget", "--user", GIVER, "--team", "T111", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "outbox" in result.stdout and "slack_requests" in result.stdout, result.stdout
    left = [(table, row) for table, row in everything(db) if MARK in row or GIVER in row]
    assert left == [], "\n".join(f"{t}: {r[:300]}" for t, r in left)
    # Other people's thanks of Gloria still count, without her.
    assert any(
        table == "appreciations" and "for the launch" in row for table, row in everything(db)
    )
    if sqlite_file:
        for file in (sqlite_file, sqlite_file.with_name(sqlite_file.name + "-wal")):
            if file.exists():
                assert MARK.encode() not in file.read_bytes(), f"{file.name} still holds it"
    again = advocate("forget", "--user", GIVER, "--team", "T111", env=env, cwd=tmp_path)
    assert again.returncode == 0 and everything(db) == everything(db)
