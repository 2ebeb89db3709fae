"""The workers' own rules: a database error in the middle of a request costs that request a
lease, never the worker thread that held it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from bot.app import build_pipeline, build_workers
from bot.runtime import Runtime
from bot.store.models import SlackRequest
from bot.web import WebApp
from tests.conftest import ANA, GIVER, AppServer
from tests.e2e.processes import wait_until
from tests.support.fake_slack import FakeSlack


class OneWorker(AppServer):
    """The app with a single worker thread, so that losing it would show."""

    def _web(self) -> WebApp:
        pipeline = build_pipeline(self.runtime)
        self.workers = build_workers(
            self.runtime, threads=1, fast_threads=0, backoff=timedelta(milliseconds=50)
        )
        finish = self.workers._finish
        failures = [OperationalError("UPDATE slack_requests", {}, Exception("server closed"))]

        def finish_once_failing(*args: object) -> None:
            if failures:
                raise failures.pop()
            finish(*args)  # type: ignore[arg-type]

        self.workers._finish = finish_once_failing  # type: ignore[method-assign]
        self.workers.start()
        pipeline.stored = self.workers.wake
        return WebApp(pipeline, self.runtime.db, self.runtime.settings.slack_signing_secret)


def statuses(runtime: Runtime) -> dict[str, SlackRequest]:
    with runtime.db.transaction() as session:
        return {row.status: row for row in session.scalars(select(SlackRequest))}


def test_a_database_error_while_marking_done_costs_a_lease_not_the_worker(
    runtime: Runtime, slack: FakeSlack
) -> None:
    server = OneWorker(runtime)
    try:
        for key in ("first", "second"):
            status, _ = server.client.command(
                command="/appreciate",
                text=f"<@{ANA}> for the {key} review",
                user_id=GIVER,
                response_url=slack.response_url(key),
            )
            assert status == 200
        # The one worker lived through the first request's failure and did the second.
        assert wait_until(lambda: set(statuses(runtime)) == {"pending", "done"})
        assert len(slack.messages("C111")) == 2
        rows = statuses(runtime)
        held = rows["pending"].claimed_until
        # Not in hand any more: its claim is left to run out, not renewed forever.
        assert server.workers is not None
        server.workers._renew()
        with runtime.db.transaction() as session:
            row = session.get(SlackRequest, rows["pending"].id)
            assert row is not None and row.claimed_until == held
    finally:
        server.close()


class ServerOnly(AppServer):
    """The server's process of `advocate run`: it stores and acknowledges; no workers."""

    def _web(self) -> WebApp:
        pipeline = build_pipeline(self.runtime)
        return WebApp(pipeline, self.runtime.db, self.runtime.settings.slack_signing_secret)


def test_after_the_database_dropped_every_connection_the_next_request_is_stored(
    runtime: Runtime,
) -> None:
    """A restarted PostgreSQL leaves the pool's connections dead: the request that finds
    one is still stored and acknowledged, not refused."""
    if runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to lose")
    server = ServerOnly(runtime)
    try:
        command = {"command": "/appreciate", "user_id": GIVER}
        assert server.client.command(text=f"<@{ANA}> for the deck", **command) == (200, b"")
        with create_engine(runtime.db.url).connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert server.client.command(text=f"<@{ANA}> for the review", **command) == (200, b"")
        assert len(statuses(runtime)["pending"].key) and count_stored(runtime) == 2
    finally:
        server.close()


def count_stored(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return len(list(session.scalars(select(SlackRequest.id))))
