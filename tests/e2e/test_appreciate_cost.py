"""What one /appreciate costs the database and Slack: a guard against creeping round trips."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from tests.conftest import ANA, BEN, GIVER, AppServer
from tests.e2e.helpers import wait_reply
from tests.support.fake_slack import FakeSlack


@dataclass
class Work:
    """The request's own transactions, each a list of its statements' verbs. The pipeline's
    (storing, claiming and finishing requests, and workers looking for more, on their own
    clock) are counted apart: how many there are depends on how the workers are woken."""

    own: list[list[str]] = field(default_factory=list)
    pipeline: int = 0

    @property
    def transactions(self) -> int:
        return len(self.own)

    @property
    def statements(self) -> list[str]:
        return [verb for transaction in self.own for verb in transaction]


@contextmanager
def counting(engine: Engine) -> Iterator[Work]:
    """Every statement and transaction the engine runs inside the block."""
    work = Work()
    open_: dict[int, list[str]] = {}
    pipeline: set[int] = set()

    def on_begin(connection: Any) -> None:
        open_[id(connection)] = []

    def on_statement(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "slack_requests" in statement:
            pipeline.add(id(connection))
        open_.setdefault(id(connection), []).append(statement.split(None, 1)[0].upper())

    def on_end(connection: Any) -> None:
        statements = open_.pop(id(connection), [])
        if id(connection) in pipeline:
            pipeline.discard(id(connection))
            work.pipeline += 1
        elif statements:
            work.own.append(statements)

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_end)
    event.listen(engine, "rollback", on_end)
    try:
        yield work
    finally:
        for name, handler in (
            ("begin", on_begin),
            ("before_cursor_execute", on_statement),
            ("commit", on_end),
            ("rollback", on_end),
        ):
            event.remove(engine, name, handler)


def appreciate(server: AppServer, slack: FakeSlack, key: str) -> Work:
    slack.reset_calls()
    with counting(server.runtime.db.engine) as work:
        server.client.command(
            command="/appreciate",
            text=f"<@{ANA}> <@{BEN}> for the release notes",
            user_id=GIVER,
            response_url=slack.response_url(key),
        )
        assert "recorded" in wait_reply(slack, key)
    return work


def test_appreciation_costs_few_transactions_and_no_dm_opens(
    server: AppServer, slack: FakeSlack
) -> None:
    # As `advocate run` does at start: which workspace the token serves is known first.
    server.runtime.clients.token_owner()
    # Ten transactions: the settings, remembering each of the three people, the
    # appreciation and its outbox rows, marking the people as users, claiming the three
    # messages together (with their DM channels), then marking each one sent. The daily
    # limit is one conditional upsert of the giver's counter in the appreciation's own.
    # The pipeline's own come on top: storing the request, claiming it, marking it done.
    first = appreciate(server, slack, "first")
    assert first.transactions <= 8 and len(first.statements) <= 23, first
    assert 3 <= first.pipeline <= 12, first
    assert slack.calls_to("conversations.open") == []
    assert sorted(c.params["channel"] for c in slack.calls_to("chat.postMessage")) == sorted(
        ["C111", ANA, BEN]
    )

    # The DM channels Slack answered with were kept: the next DMs go straight to them.
    again = appreciate(server, slack, "again")
    assert again.transactions <= 8 and len(again.statements) <= 21, again
    assert slack.calls_to("conversations.open") == []
    assert sorted(c.params["channel"] for c in slack.calls_to("chat.postMessage")) == sorted(
        ["C111", "D" + ANA[1:], "D" + BEN[1:]]
    )
