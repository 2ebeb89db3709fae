"""Fixtures: a migrated database on SQLite and PostgreSQL, a fake Slack, the app on HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, make_url, text

from bot.app import build_pipeline, build_workers
from bot.config import Settings
from bot.pipeline import Workers
from bot.runtime import Runtime
from bot.store import migrate
from bot.store.db import Database
from bot.store.models import Base
from bot.web import SERVER_OPTIONS, WebApp
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import SlackClientForTests

POSTGRES_ENV = "ADVOCATE_TEST_POSTGRES_URL"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T111"
GIVER = "U111"
ANA = "U222"
BEN = "U333"


class MovableClock:
    """The injectable clock: tests set `now` to move time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the PostgreSQL tests: set {POSTGRES_ENV}")
    return _own_database(url) if url else None


def _own_database(url: str) -> str:
    """Under pytest-xdist, each worker's database of its own beside the one in `url` (test_ci
    gives test_ci_gw0, test_ci_gw1, ...), created if missing: every worker drops and
    recreates its schema and truncates its tables. Without workers, `url` itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                # From template0, which nobody connects to: workers creating theirs at the
                # same moment never find their template in use.
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def postgres_database(suffix: str) -> str:
    """The name of a database that a test may drop and create for itself, derived from this
    process's test database: runs and workers each have their own."""
    url = _postgres_url()
    assert url, f"PostgreSQL tests need {POSTGRES_ENV}"
    name = f"{make_url(url).database}_{suffix}"
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "advocate.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> str:
    url = _postgres_url()
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db.engine)
    db.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a copy of a template on SQLite, truncated on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "advocate.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        url = request.getfixturevalue("postgres_migrated")
        database = Database(url)
        with database.engine.begin() as connection:
            _empty_postgres(connection)
    yield database
    database.dispose()


def _empty_postgres(connection: Connection) -> None:
    """Every table empty and every sequence back at its start, as `TRUNCATE <all tables>
    RESTART IDENTITY` leaves them; but only the tables that hold rows are truncated (each
    truncated table costs PostgreSQL new files, about 100 ms for all of them), and the
    sequences of the others that moved are set back (a sequence moves with an insert that
    was rolled back or whose row was deleted)."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    any_rows = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables
    )
    full = list(connection.scalars(text(any_rows)))
    if full:
        connection.execute(text(f"TRUNCATE {', '.join(full)} RESTART IDENTITY CASCADE"))
    # The sequences these tables' columns own (those RESTART IDENTITY restarts) that moved:
    # pg_sequences shows no last_value for one not used since its start.
    moved = connection.scalars(
        text(
            "SELECT format('%I.%I', q.schemaname, q.sequencename) FROM pg_sequences q"
            " JOIN pg_class s ON s.relname = q.sequencename"
            " AND s.relnamespace = q.schemaname::regnamespace"
            " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid"
            " AND d.deptype IN ('a', 'i')"
            " JOIN pg_class t ON t.oid = d.refobjid"
            " WHERE q.schemaname = current_schema() AND q.last_value IS NOT NULL"
            " AND t.relname = ANY(:tables)"
        ),
        {"tables": tables},
    )
    for sequence in list(moved):
        connection.execute(text("SELECT setval(:name, 1, false)"), {"name": sequence})


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))


@pytest.fixture
def slack(clock: MovableClock) -> Iterator[FakeSlack]:
    # Message timestamps follow the test clock, as Slack's follow real time.
    fake = FakeSlack(team_id=TEAM, clock=lambda: clock().timestamp())
    fake.add_user(GIVER, name="gloria", real_name="Gloria", tz="America/New_York")
    fake.add_user(ANA, name="ana", real_name="Ana", tz="Europe/Paris")
    fake.add_user(BEN, name="ben", real_name="Ben", tz="Asia/Tokyo")
    fake.set_channel("C111", is_member=True)
    with fake:
        yield fake


@pytest.fixture
def settings(slack: FakeSlack, db: Database) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        database_url=db.url,
        values=("teamwork", "ownership"),
    )


@pytest.fixture
def runtime(settings: Settings, db: Database, clock: MovableClock) -> Runtime:
    return Runtime.create(settings, db=db, clock=clock)


class AppServer:
    """The real WSGI app served by waitress on a free port, as in production."""

    def __init__(self, runtime: Runtime) -> None:
        from waitress.server import create_server

        self.runtime = runtime
        self.workers: Workers | None = None
        self.web = self._web()
        self._server = create_server(
            self.web, host="127.0.0.1", port=0, threads=4, **SERVER_OPTIONS
        )
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.client = SlackClientForTests(self.url, SIGNING_SECRET)

    def _serve(self) -> None:
        # close() from the test thread pulls the socket out from under select().
        with contextlib.suppress(OSError):
            self._server.run()

    def _web(self) -> WebApp:
        """The pipeline and its workers, in this process, as `advocate run` on SQLite."""
        if self.workers is not None:
            self.workers.stop()
        pipeline = build_pipeline(self.runtime)
        self.workers = build_workers(
            self.runtime, threads=4, backoff=timedelta(milliseconds=50)
        ).start()
        pipeline.stored = self.workers.wake
        return WebApp(pipeline, self.runtime.db, self.runtime.settings.slack_signing_secret)

    def reconfigure(self, **changes: object) -> None:
        """Rebuild the app with other settings (same database and clock)."""
        self.runtime.settings = replace(self.runtime.settings, **changes)
        self.web = self._web()
        self._server.application = self.web

    def drain(self, timeout: float = 30) -> None:
        """Wait until the workers have done every request stored so far."""
        from sqlalchemy import func, select

        from bot.store.models import SlackRequest

        pending = select(func.count()).where(SlackRequest.status == "pending")
        deadline = time.monotonic() + timeout
        while True:
            with self.runtime.db.transaction() as session:
                if not session.scalar(pending.select_from(SlackRequest)):
                    return
            assert time.monotonic() < deadline, "requests still pending"
            time.sleep(0.02)

    def close(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
        if self.workers is not None:
            self.workers.stop()


@pytest.fixture
def server(runtime: Runtime) -> Iterator[AppServer]:
    app_server = AppServer(runtime)
    yield app_server
    app_server.close()


_skipped_postgres: list[str] = []

# tests/e2e/test_fuzz.py hands each test's counts to its report under this name.
FUZZ_REPORT = "fuzz inputs"
FUZZ_KNOWN_CRASHES = "known crashes replayed"  # reported apart: they are not fuzz inputs
_fuzz_tried: Counter[str] = Counter()
_fuzz_answered: dict[str, Counter[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under pytest-xdist the workers' reports come here, to the process that ends the run.
    if report.skipped and "[postgres" in report.nodeid:
        _skipped_postgres.append(report.nodeid)
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name != FUZZ_REPORT:
                continue
            for surface, counts in value.items():
                _fuzz_tried[surface] += counts["tried"]
                _fuzz_answered.setdefault(surface, Counter()).update(counts["answered"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _fuzz_tried:
        return
    fuzzed = {k: v for k, v in _fuzz_tried.items() if k != FUZZ_KNOWN_CRASHES}
    terminalreporter.write_sep("-", "fuzz")
    terminalreporter.write_line(f"fuzz inputs tried: {sum(fuzzed.values())}")
    for surface, count in sorted(_fuzz_tried.items()):
        statuses = _fuzz_answered.get(surface, Counter())
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=_status))
        terminalreporter.write_line(f"  {surface}: {count} ({by_status})")


def _status(item: tuple[str, int]) -> int:
    return int(item[0])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped PostgreSQL test is a failure: both backends must really run."""
    if os.environ.get("CI") == "true" and _skipped_postgres:
        print(f"\n{len(_skipped_postgres)} PostgreSQL tests were skipped; failing (CI=true).")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
