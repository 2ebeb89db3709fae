"""Prometheus metrics: what the app counts as it goes, what it reads from the database when
scraped, and the `GET /metrics` listener on METRICS_PORT.

Counted as it goes, in the process where it happens (microseconds each, nothing else):

    advocate_requests_received_total{kind,outcome}  at the ack: stored | duplicate |
                                                    refused (not stored) | answered (a form
                                                    sent back with field errors)
    advocate_ack_seconds{kind}                      verified request -> answer (histogram)
    advocate_requests_worked_total{kind,outcome}    each attempt: done | expired (a modal's
                                                    trigger) | failed (retried) | parked
    advocate_request_work_seconds{kind}             one attempt (histogram)
    advocate_slack_api_calls_total{method,result}   each HTTP attempt: ok | slack_error |
                                                    ratelimited | server_error | timeout |
                                                    connection_error (bot/slack/client.py)
    advocate_outbox_sends_total{result}             sent | retry | failed
    advocate_scheduler_tick_seconds                 how long a tick ran (histogram)
    advocate_scheduler_tick_lag_seconds             how late it started (histogram)
    advocate_database_errors_total{where}           SQLAlchemy errors the app survived

Read from the database when scraped (one statement, on the serving process, never at the
ack): `advocate_requests_waiting`, `advocate_requests_oldest_waiting_seconds`,
`advocate_outbox_waiting`, `advocate_outbox_failing` (waiting after a failed attempt) and
`advocate_outbox_oldest_waiting_seconds`. Every process that serves /metrics reports them,
so aggregate them with max(), not sum().

Labels are fixed words and Web API method names only: never a workspace, person, channel,
text or token.

**Several processes, one port.** `advocate run --http` answers in one process and works in
another (bot/worker.py), and the contract gives the bot one METRICS_PORT. Two processes
cannot both listen on it, and one process cannot see the other's counters in memory. So
the server creates an empty directory and sets PROMETHEUS_MULTIPROC_DIR before
prometheus_client is first imported and before it forks: both processes (and a worker
spawned to replace one that died) then keep their values in memory-mapped files there,
and the server alone listens, summing the files at each scrape (prometheus_client's
multiprocess mode). A dead worker's files stay, so counters never go back. Every other
shape (`run --socket`, `run --no-workers`, `worker`, `scheduler`) is one process, which
serves its own registry, with the usual process metrics. An operator who sets
PROMETHEUS_MULTIPROC_DIR themselves gets multiprocess mode in any of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.store.db import Database
from bot.store.models import OutboxMessage, SlackRequest

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
KINDS = ("command", "shortcut", "action", "view", "event")
RECEIVED = ("stored", "duplicate", "refused", "answered")
WORKED = ("done", "expired", "failed", "parked")
SENT = ("sent", "retry", "failed")
# Where a database error was survived: storing a request at the ack, claiming one, looking
# for work, recording how one went, handing claims back, a scheduled tick, a scrape.
DATABASE_PLACES = ("store", "claim", "look", "record", "release", "tick", "scrape")

# No `*_created` series: multiprocess mode has none, and both modes show the same.
disable_created_metrics()

_received = Counter(
    "advocate_requests_received_total",
    "Requests from Slack at the ack, by kind and outcome",
    ["kind", "outcome"],
)
_ack_seconds = Histogram(
    "advocate_ack_seconds",
    "Time from a verified request to its acknowledgement",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
_worked = Counter(
    "advocate_requests_worked_total",
    "Attempts at working stored requests, by kind and outcome",
    ["kind", "outcome"],
)
_work_seconds = Histogram(
    "advocate_request_work_seconds",
    "Time one attempt at a stored request took",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
_slack_calls = Counter(
    "advocate_slack_api_calls_total",
    "HTTP attempts at Slack's Web API, by method and result",
    ["method", "result"],
)
_outbox_sends = Counter(
    "advocate_outbox_sends_total", "Outbox messages tried, by result", ["result"]
)
_tick_seconds = Histogram(
    "advocate_scheduler_tick_seconds",
    "Time one scheduled tick took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0),
)
_tick_lag_seconds = Histogram(
    "advocate_scheduler_tick_lag_seconds",
    "How long after it was due a scheduled tick started",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 30.0, 60.0, 300.0),
)
_database_errors = Counter(
    "advocate_database_errors_total", "Database errors survived, by where", ["where"]
)

# Children made once: the ack's observation is then a dict lookup and two increments.
_received_by = {(k, o): _received.labels(k, o) for k in KINDS for o in RECEIVED}
_ack_by = {k: _ack_seconds.labels(k) for k in KINDS}
_worked_by = {(k, o): _worked.labels(k, o) for k in KINDS for o in WORKED}
_work_by = {k: _work_seconds.labels(k) for k in KINDS}
_sent_by = {r: _outbox_sends.labels(r) for r in SENT}
_database_errors_by = {w: _database_errors.labels(w) for w in DATABASE_PLACES}


def acknowledged(kind: str, outcome: str, seconds: float) -> None:
    """A request answered at the ack (`outcome` one of RECEIVED)."""
    (_received_by.get((kind, outcome)) or _received.labels(kind, outcome)).inc()
    (_ack_by.get(kind) or _ack_seconds.labels(kind)).observe(seconds)


def worked(kind: str, outcome: str, seconds: float) -> None:
    """One attempt at a stored request (`outcome` one of WORKED)."""
    (_worked_by.get((kind, outcome)) or _worked.labels(kind, outcome)).inc()
    (_work_by.get(kind) or _work_seconds.labels(kind)).observe(seconds)


def slack_call(method: str, result: str) -> None:
    """One HTTP attempt at a Web API method; `method` must be a method's name, never text."""
    _slack_calls.labels(method, result).inc()


def outbox_send(result: str) -> None:
    """One outbox message tried (`result` one of SENT)."""
    _sent_by[result].inc()


def tick(seconds: float, lag_seconds: float) -> None:
    """One scheduled tick: how long it ran, and how late it started."""
    _tick_seconds.observe(seconds)
    _tick_lag_seconds.observe(lag_seconds)


def database_error(where: str) -> None:
    """A database error survived at `where` (one of DATABASE_PLACES)."""
    _database_errors_by[where].inc()


class Backlog(Collector):
    """The gauges read from the database at each scrape, in one statement: what waits in
    the request pipeline and in the outbox, and for how long the oldest has waited."""

    def __init__(self, db: Database, served: Callable[[], list[ColumnElement[bool]]]) -> None:
        self.db = db
        # Outbox messages of a workspace this token does not serve are never sent here;
        # counting them would alert forever (see bot/slack/outbox.py).
        self.served = served

    def describe(self) -> Iterable[Metric]:
        # Registering a collector without describe() would run the query once at start.
        return self._families(None, datetime.now(UTC))

    def collect(self) -> Iterable[Metric]:
        now = datetime.now(UTC)
        try:
            pending_outbox = [OutboxMessage.status == "pending", *self.served()]
            pending_requests = SlackRequest.status == "pending"
            with self.db.engine.connect() as connection:
                row = connection.execute(
                    select(
                        select(func.count())
                        .where(pending_requests)
                        .select_from(SlackRequest)
                        .scalar_subquery(),
                        select(func.min(SlackRequest.received_at))
                        .where(pending_requests)
                        .scalar_subquery(),
                        select(func.count())
                        .where(*pending_outbox)
                        .select_from(OutboxMessage)
                        .scalar_subquery(),
                        select(func.count(OutboxMessage.last_error))
                        .where(*pending_outbox)
                        .scalar_subquery(),
                        select(func.min(OutboxMessage.created_at))
                        .where(*pending_outbox)
                        .scalar_subquery(),
                    )
                ).one()
        except Exception as error:  # a scrape shows the rest; the log says why not this
            if isinstance(error, SQLAlchemyError):
                database_error("scrape")
            log.warning("metrics: could not read the backlog: %s", error)
            return []
        return self._families(tuple(row), now)

    def _families(self, row: tuple[Any, ...] | None, now: datetime) -> list[Metric]:
        requests, oldest_request, messages, failing, oldest_message = row or (None,) * 5
        return [
            _gauge(
                "advocate_requests_waiting",
                "Stored requests not yet done (pending, in hand or to be retried)",
                requests,
            ),
            _gauge(
                "advocate_requests_oldest_waiting_seconds",
                "Age of the oldest stored request not yet done (0: none)",
                _age(oldest_request, now) if row else None,
            ),
            _gauge("advocate_outbox_waiting", "Outbox messages not yet sent", messages),
            _gauge(
                "advocate_outbox_failing",
                "Outbox messages waiting to be tried again after a failed attempt",
                failing,
            ),
            _gauge(
                "advocate_outbox_oldest_waiting_seconds",
                "Age of the oldest outbox message not yet sent (0: none)",
                _age(oldest_message, now) if row else None,
            ),
        ]


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=None if value is None else float(value))


def _age(since: datetime | None, now: datetime) -> float:
    if since is None:
        return 0.0
    if since.tzinfo is None:  # an aggregate SQLite hands back without its type
        since = since.replace(tzinfo=UTC)
    return max(0.0, (now - since).total_seconds())


def registry_for(backlog: Backlog) -> CollectorRegistry:
    """What /metrics shows: this process's registry, or in multiprocess mode (see the
    module's docstring) what every process wrote to the shared directory; and the backlog."""
    if os.environ.get(MULTIPROCESS_DIR):
        if not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(f"{MULTIPROCESS_DIR} was set after prometheus_client was imported")
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    registry.register(backlog)
    return registry


def wsgi_app(registry: CollectorRegistry) -> Callable[..., Iterable[bytes]]:
    """`GET /metrics` in Prometheus's text format; anything else is 404."""
    exposition = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found; metrics are at /metrics\n"]
        return exposition(environ, start_response)

    return app


@contextlib.contextmanager
def serving(port: int | None, runtime: Runtime) -> Iterator[None]:
    """Serve /metrics on `port` (None: do nothing) on a thread of its own while the block
    runs, with the backlog of `runtime`'s database. Raises OSError when the port cannot be
    listened on."""
    if port is None:
        yield
        return
    from waitress.server import create_server

    from bot.slack.outbox import served_messages

    collector = Backlog(runtime.db, lambda: served_messages(runtime.clients.token_owner()))
    registry = registry_for(collector)
    try:
        server = create_server(wsgi_app(registry), host="0.0.0.0", port=port, threads=2)
    except OSError as error:
        registry.unregister(collector)
        raise OSError(f"cannot serve metrics on METRICS_PORT {port}: {error.strerror}") from None
    thread = threading.Thread(target=_run, args=(server,), name="metrics", daemon=True)
    thread.start()
    log.info("serving metrics on port %s (GET %s)", port, PATH)
    try:
        yield
    finally:
        server.close()
        thread.join(timeout=5)
        registry.unregister(collector)


def _run(server: Any) -> None:
    # close() from another thread pulls the socket out from under select().
    with contextlib.suppress(OSError):
        server.run()
