"""What one /appreciate costs the database and Slack: a guard against creeping round trips."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bot.runtime import Runtime
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


class Counting:
    """Every statement and transaction the engine runs inside `window()`. The listeners are
    on the engine from before the app's workers start until after they stop: adding or
    removing one while a worker thread runs a statement breaks SQLAlchemy's dispatch
    ("deque mutated during iteration") and kills that thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.work: Work | None = None
        self._open: dict[int, list[str]] = {}
        self._pipeline: set[int] = set()
        self._handlers = (
            ("begin", self._on_begin),
            ("before_cursor_execute", self._on_statement),
            ("commit", self._on_end),
            ("rollback", self._on_end),
        )
        for name, handler in self._handlers:
            event.listen(engine, name, handler)

    def remove(self) -> None:
        for name, handler in self._handlers:
            event.remove(self.engine, name, handler)

    @contextmanager
    def window(self) -> Iterator[Work]:
        self._open.clear()
        self._pipeline.clear()
        self.work = Work()
        try:
            yield self.work
        finally:
            self.work = None

    def _on_begin(self, connection: Any) -> None:
        if self.work is not None:
            self._open[id(connection)] = []

    def _on_statement(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.work is None:
            return
        if "slack_requests" in statement:
            self._pipeline.add(id(connection))
        self._open.setdefault(id(connection), []).append(statement.split(None, 1)[0].upper())

    def _on_end(self, connection: Any) -> None:
        work = self.work
        if work is None:
            return
        statements = self._open.pop(id(connection), [])
        if id(connection) in self._pipeline:
            self._pipeline.discard(id(connection))
            work.pipeline += 1
        elif statements:
            work.own.append(statements)


@pytest.fixture
def counting(runtime: Runtime) -> Iterator[Counting]:
    counting = Counting(runtime.db.engine)
    yield counting
    counting.remove()


@pytest.fixture
def server(counting: Counting, runtime: Runtime) -> Iterator[AppServer]:
    """conftest's, started once the listeners are on (and so stopped before they go)."""
    app_server = AppServer(runtime)
    yield app_server
    app_server.close()


def appreciate(server: AppServer, counting: Counting, slack: FakeSlack, key: str) -> Work:
    slack.reset_calls()
    with counting.window() as work:
        server.client.command(
            command="/appreciate",
            text=f"<@{ANA}> <@{BEN}> for the release notes",
            user_id=GIVER,
            response_url=slack.response_url(key),
        )
        assert "recorded" in wait_reply(slack, key)
    return work


def test_appreciation_costs_few_transactions_and_no_dm_opens(
    server: AppServer, counting: Counting, slack: FakeSlack
) -> None:
    # As `advocate run` does at start: which workspace the token serves is known first.
    server.runtime.clients.token_owner()
    # Five transactions: the settings; what Slack told about the people lately (none
    # yet); remembering them once looked up; the appreciation with its recipients, its
    # counters (the daily limit is one conditional upsert, holding the count of the day
    # for a first row; the year's tallies for the recap one upsert), the people
    # marked as users and its messages (one insert), claimed for this worker to send; then
    # marking the three sent.
    # The pipeline's own come on top: storing the request, claiming it, marking it done.
    first = appreciate(server, counting, slack, "first")
    assert first.transactions <= 5 and len(first.statements) <= 17, first
    assert len(slack.calls_to("users.info")) == 3
    assert 3 <= first.pipeline <= 12, first
    assert slack.calls_to("conversations.open") == []
    assert sorted(c.params["channel"] for c in slack.calls_to("chat.postMessage")) == sorted(
        ["C111", ANA, BEN]
    )

    # The DM channels Slack answered with were kept: the next DMs go straight to them.
    # People Slack told about within the hour are not looked up again: four transactions.
    again = appreciate(server, counting, slack, "again")
    assert again.transactions <= 4 and len(again.statements) <= 14, again
    assert slack.calls_to("users.info") == []
    assert slack.calls_to("conversations.open") == []
    assert sorted(c.params["channel"] for c in slack.calls_to("chat.postMessage")) == sorted(
        ["C111", "D" + ANA[1:], "D" + BEN[1:]]
    )
