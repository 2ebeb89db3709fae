"""1. Ack latency, work throughput and lag of signed slash commands, through the production
server.

Advocate runs as `advocate run --http --no-scheduler` (waitress, 8 threads) in a child
process, with its worker process (bot/worker.py). Three Bolt apps without a database
(bench/bare_bolt.py), served the same way, are measured in the same run against the same
fake Slack (a child process too):

- *bare Bolt*: acks `/appreciate`, with Bolt's default runner, which polls every 10 ms for
  the ack. The ack targets are ratios to it.
- *inline floor*: the same with `process_before_response=True`, the runner Advocate uses:
  the fastest ack Bolt gives.
- *work floor*: acks, then makes the Web API calls Advocate makes for `/appreciate @a @b`,
  and nothing else: what the work itself costs.

**Ack latency.** Clients in this process post signed `/appreciate` requests over keep-alive
connections and time each one until the HTTP response: that is the ack, what Slack sees.
Loads: 1 and 8 closed-loop clients (each sends its next request when the last is answered)
and one open loop, whose requests leave at a fixed rate, as Slack sends them, whatever the
answers; its latencies count from the planned sending time. Advocate acks first and works
after the ack; the benchmark waits until every request's reply reached its response URL
before the next run, and reports that too ("done"), with the CPU time the server (its worker
included) and the fake Slack spent per request.

**Command to channel.** `/appreciate @a @b` sent on a schedule at SLACK_RATE per second
(open loop) for `Plan.slack_rate_seconds`, to the work floor and to Advocate on each
database, each timed from its planned sending until the fake Slack got the
`chat.postMessage` to the channel that names its giver ("posted"; the givers of a run are
all different people, so a post tells which command it is for).

**Work throughput.** A burst from 8 clients, as fast as acked: channel posts per second
(from the first command sent to the last post), fully processed `/appreciate @a @b` per
second (replies at the response URL, from the first request sent to the last reply) and
the server's CPU ms per fully processed request, for Advocate and the work floor, with
their ratios and the Web API calls each made per request.

**Sustained load and lag.** 8 clients send `/appreciate @a @b` to each server for
`Plan.sustained_seconds` (60 s in the full plan; the p99 target is for this load). Advocate
acks faster than it works, so a backlog of stored requests builds up: meanwhile a modal is
opened every `Plan.modal_every` seconds (the global shortcut "Appreciate someone", which
takes the fast lane of bot/pipeline.py), timed from sending until the fake Slack gets
`views.open` for its trigger id; after the load, the benchmark times how long until no row
of `slack_requests` is pending any more (the target: less time than the load lasted).
"""

from __future__ import annotations

import http.client
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import create_engine, text

from bench.common import (
    BOT_TOKEN,
    REPO,
    SIGNING_SECRET,
    Databases,
    child_process,
    cpu_seconds,
    free_port,
    http_status,
    latency_summary,
    median_of,
    python_env,
    wait_for_status,
)
from bench.fakeslack import FakeSlackProcess, giver_ids
from tests.support.slack_requests import (
    global_shortcut_payload,
    interactive_body,
    sign,
    slash_command_body,
)

EVENTS_PATH = "/slack/events"
APPRECIATE_TEXT = "<@U222> <@U333> for the release"
COMMANDS = {"appreciate": APPRECIATE_TEXT, "stats": "stats"}
PACED_RATE = 10.0  # requests per second in the open-loop load
PACED_THREADS = 32
# The rate of commands a busy workspace sends, for the command-to-channel latency.
SLACK_RATE = 4.0
GIVERS = 1000
DRAIN_TIMEOUT = 600.0
# A typical Web API round trip from a server to Slack, used for one run with a slower Slack.
SLACK_LATENCY = 0.1
# The Bolt baselines (bench/bare_bolt.py): results key, label, flags.
BASELINES = {"bolt": ("bare Bolt", []), "bolt_inline": ("inline floor", ["--inline"])}
# The global shortcut that opens the appreciation modal (bot/listeners/shortcuts.py).
MODAL_SHORTCUT = "appreciate_someone"
# After the sustained load: how often the backlog is counted.
BACKLOG_POLL = 0.1
PENDING = text("SELECT count(*) FROM slack_requests WHERE status = 'pending'")


@dataclass(frozen=True)
class Plan:
    requests: int  # per run
    runs: int
    warmup: int
    # 8 clients sending `/appreciate` for this long to every server (0: no such load), with
    # a modal opened every `modal_every` seconds meanwhile (Advocate), then at most
    # `backlog_timeout` seconds of waiting for Advocate's backlog to empty.
    sustained_seconds: float = 0.0
    modal_every: float = 2.0
    backlog_timeout: float = 1800.0
    # Requests in the run where every Slack API call takes SLACK_LATENCY (0: no such run).
    slow_slack_requests: int = 0
    # Also run 8 clients against a server doing the work in its own process (bench/in_process.py).
    compare_in_process: bool = False
    # `/appreciate @a @b` sent at SLACK_RATE per second for this long to Advocate and the
    # work floor, each timed until its post arrives in the channel (0: not measured).
    slack_rate_seconds: float = 0.0


@dataclass(frozen=True)
class Load:
    """Closed loop (`clients` each waiting for their answer) or open loop (`rate` per s)."""

    clients: int
    rate: float | None = None

    @property
    def label(self) -> str:
        return f"{self.rate:g}/s" if self.rate else str(self.clients)


LOADS = (Load(1), Load(8), Load(PACED_THREADS, rate=PACED_RATE))
SUSTAINED = Load(8)
AT_SLACK_RATE = Load(8, rate=SLACK_RATE)


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


@dataclass
class LoadResult:
    latencies: list[float]
    sent_at: dict[str, float]
    elapsed: float
    errors: int


Request = tuple[str, bytes, dict[str, str]]  # key (of its response URL), body, headers


class Requests:
    """Signed slash-command bodies, each with its own trigger id and response URL key, and
    signed global shortcuts. `giver_of` says who sent each command, by its key: what its
    channel post is matched by."""

    def __init__(self, fake: FakeSlackProcess) -> None:
        self.fake = fake
        self.serial = itertools.count()
        self.givers = itertools.cycle(giver_ids(GIVERS))
        self.giver_of: dict[str, str] = {}
        self.lock = threading.Lock()
        # Slack's own payload, read once: building one from it takes 30 µs instead of 450.
        template = slash_command_body(command="/appreciate", text="")
        self.template = dict(parse_qsl(template.decode(), keep_blank_values=True))

    def build(self, command: str, count: int) -> list[Request]:
        return [self.one(command) for _ in range(count)]

    def one(self, command: str) -> Request:
        with self.lock:
            key = f"r{next(self.serial)}"
            giver = next(self.givers)
            self.giver_of[key] = giver
        fields = {
            **self.template,
            "text": COMMANDS[command],
            "user_id": giver,
            "response_url": self.fake.response_url(key),
            "trigger_id": f"bench.{key}",
        }
        return key, *signed(urlencode(fields).encode())

    def shortcut(self) -> Request:
        """The global shortcut that opens the appreciation modal; its key is its trigger id."""
        with self.lock:
            key = f"bench.modal.{next(self.serial)}"
            giver = next(self.givers)
        payload = global_shortcut_payload(callback_id=MODAL_SHORTCUT, user_id=giver, trigger_id=key)
        return key, *signed(interactive_body(payload))


def signed(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers.update(sign(body, SIGNING_SECRET))
    return body, headers


def post_all(port: int, requests: list[Request], load: Load) -> LoadResult:
    """Send `requests` from `load.clients` threads, each with one keep-alive connection;
    with `load.rate`, request i leaves at i / rate seconds and its latency counts from then."""
    return drive(port, lambda index: requests[index] if index < len(requests) else None, load)


def post_for(port: int, make: Callable[[], Request], load: Load, seconds: float) -> LoadResult:
    """Send requests made by `make` from `load.clients` closed-loop clients for `seconds`."""
    deadline = time.perf_counter() + seconds
    return drive(port, lambda _: make() if time.perf_counter() < deadline else None, load)


def drive(port: int, take: Callable[[int], Request | None], load: Load) -> LoadResult:
    """Each client sends `take(i)` (i = 0, 1, ...; None: stop) and waits for its answer."""
    order = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    errors = 0
    began = time.perf_counter()
    began_at = time.time()

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next(order)
                request = take(index)
            if request is None:
                break
            key, body, headers = request
            start = time.perf_counter()
            sent = time.time()
            if load.rate:
                start = began + index / load.rate
                time.sleep(max(0.0, start - time.perf_counter()))
                sent = began_at + index / load.rate  # planned, as for its ack latency
            ok = send(connection, body, headers)
            if not ok:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            took = time.perf_counter() - start
            with lock:
                latencies.append(took)
                sent_at[key] = sent
                errors += not ok
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(load.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(latencies, sent_at, time.perf_counter() - began, errors)


def send(connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> bool:
    """POST one request and read its answer; whether it was a 200."""
    try:
        connection.request("POST", EVENTS_PATH, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def summarize_run(
    load: LoadResult,
    responded_at: dict[str, float] | None,
    cpu: dict[str, float],
    posted_at: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Ack latency and throughput; with `responded_at` (when each key's reply reached its
    response URL), "done" latency and processed/s; with `posted_at` (when each key's channel
    post arrived), "posted" latency and channel posts per second, both from sending to the
    last one."""
    count = len(load.latencies)
    run: dict[str, Any] = {
        **latency_summary(load.latencies),
        "throughput_rps": count / load.elapsed,
        "errors": load.errors,
        **{f"{name}_cpu_ms": seconds * 1000 / count for name, seconds in cpu.items()},
    }
    responded = responded_at or {}
    answered = {key: responded[key] for key in load.sent_at if key in responded}
    if answered:
        done = [answered[k] - sent for k, sent in load.sent_at.items() if k in answered]
        span = max(answered.values()) - min(load.sent_at.values())
        summary = latency_summary(done)
        run["done_p50_ms"] = summary["p50_ms"]
        run["done_p99_ms"] = summary["p99_ms"]
        run["done_max_ms"] = summary["max_ms"]
        run["done_rps"] = len(done) / span
        run["never_done"] = count - len(done)
    if posted_at:
        posted = [posted_at[key] - sent for key, sent in load.sent_at.items()]
        summary = latency_summary(posted)
        run["posted_p50_ms"] = summary["p50_ms"]
        run["posted_p99_ms"] = summary["p99_ms"]
        run["posted_max_ms"] = summary["max_ms"]
        run["posted_rps"] = len(posted) / (max(posted_at.values()) - min(load.sent_at.values()))
    return run


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each per-run figure, and the runs themselves."""
    keys = [k for k, v in runs[0].items() if k != "n" and isinstance(v, int | float)]
    combined: dict[str, Any] = {key: median_of(runs, key) for key in keys}
    combined["errors"] = sum(run["errors"] for run in runs)
    combined["requests_per_run"] = runs[0]["n"]
    if "api_calls_per_request" in runs[-1]:
        combined["api_calls_per_request"] = runs[-1]["api_calls_per_request"]
    combined["runs"] = runs
    return combined


@contextmanager
def advocate_server(
    fake: FakeSlackProcess,
    database_url: str,
    workdir: Path,
    label: str,
    *,
    module: str = "bot",
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`advocate run --http` on a free port, its schema migrated first (`module`
    bench.in_process: with the work in the server's process; bench.profiled: with its
    worker process profiled). `env`: more environment variables."""
    from bot.store import migrate
    from bot.store.db import Database

    db = Database(database_url)
    migrate.upgrade(db.engine)
    db.dispose()
    port = free_port()
    environment = python_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.url,
        DATABASE_URL=database_url,
        LOG_LEVEL="INFO",
        **(env or {}),
    )
    args = [sys.executable, "-m", module, "run", "--http", "--no-scheduler", "--port", str(port)]
    # The working directory is the temporary folder: no `.env` there to read.
    log_path = workdir / f"{label}.log"
    with child_process(args, env=environment, cwd=workdir, log_path=log_path) as process:
        wait_for_status(f"http://127.0.0.1:{port}/healthz", 200, timeout=60)
        yield Server(port, process.pid)


@contextmanager
def bolt_server(
    fake: FakeSlackProcess, workdir: Path, label: str = "bare-bolt", flags: Sequence[str] = ()
) -> Iterator[Server]:
    """bench/bare_bolt.py on a free port, with its `flags` (--inline, --work)."""
    port = free_port()
    env = python_env(SLACK_API_URL=fake.url, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    args = [sys.executable, "-m", "bench.bare_bolt", "--port", str(port), *flags]
    log_path = workdir / f"{label}.log"
    with child_process(args, env=env, cwd=REPO, log_path=log_path) as process:
        deadline = time.monotonic() + 30
        while http_status(f"http://127.0.0.1:{port}/") is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label} did not start")
            time.sleep(0.02)
        yield Server(port, process.pid)


def measure(
    server: Server,
    requests: Requests,
    fake: FakeSlackProcess,
    command: str,
    load: Load,
    plan: Plan,
    *,
    wait_for_work: bool,
) -> dict[str, Any]:
    """`plan.runs` runs (one for an open loop) of `plan.requests` requests; with
    `wait_for_work`, each run ends when every reply reached its response URL (and, for
    `/appreciate`, every channel post arrived), and reports the Web API calls made per
    request."""
    runs = []
    pids = {"server": server.pid, "fake_slack": fake.pid}
    # An open-loop run takes requests / rate seconds whatever the server does: one is enough.
    for _ in range(1 if load.rate else plan.runs):
        batch = requests.build(command, plan.requests)
        since = time.time()
        calls_before = fake.stats(since)["counts"] if wait_for_work else {}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result = post_all(server.port, batch, load)
        responded = posted = None
        if wait_for_work:
            responded = fake.wait_for_responses(set(result.sent_at), DRAIN_TIMEOUT, since)
            if command == "appreciate":
                posted = channel_posts(fake, requests, result.sent_at, since)
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        run = summarize_run(result, responded, cpu, posted)
        if wait_for_work:
            calls = fake.stats(time.time())["counts"]
            run["api_calls_per_request"] = per_request(calls, calls_before, len(batch))
        runs.append(run)
    return combine(runs)


def channel_posts(
    fake: FakeSlackProcess, requests: Requests, sent_at: dict[str, float], since: float
) -> dict[str, float]:
    """When each command's post arrived in the channel, by its key: the first post since
    `since` (a Unix time) that names its giver."""
    givers = {key: requests.giver_of[key] for key in sent_at}
    if len(set(givers.values())) < len(givers):
        raise ValueError(f"a run of more than {GIVERS} commands: their posts can't be told apart")
    posted = fake.wait_for_posts(set(givers.values()), DRAIN_TIMEOUT, since)
    return {key: posted[giver] for key, giver in givers.items()}


def per_request(after: dict[str, int], before: dict[str, int], count: int) -> dict[str, float]:
    return {
        method: (calls - before.get(method, 0)) / count
        for method, calls in sorted(after.items())
        if calls > before.get(method, 0)
    }


class ModalProbe:
    """While a load runs, sends the shortcut that opens a modal every `every` seconds on a
    connection of its own, noting when each left and how long its ack took."""

    def __init__(self, port: int, requests: Requests, every: float) -> None:
        self.port = port
        self.requests = requests
        self.every = every
        self.sent_at: dict[str, float] = {}
        self.acks: list[float] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, name="modals", daemon=True)

    def __enter__(self) -> ModalProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _send(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        # The first leaves once the load is under way.
        while not self._stop.wait(self.every):
            key, body, headers = self.requests.shortcut()
            start = time.perf_counter()
            self.sent_at[key] = time.time()
            ok = send(connection, body, headers)
            self.acks.append(time.perf_counter() - start)
            if not ok:
                self.errors += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.close()

    def summary(self, opened_at: dict[str, float]) -> dict[str, Any]:
        """How long each modal took to open (views.open), for those that opened."""
        opened = [opened_at[key] - sent for key, sent in self.sent_at.items() if key in opened_at]
        times = latency_summary(opened)
        return {
            "sent": len(self.sent_at),
            "opened": len(opened),
            "errors": self.errors,
            "open_p50_ms": times["p50_ms"],
            "open_max_ms": times["max_ms"],
            "ack_p50_ms": latency_summary(self.acks)["p50_ms"],
            "ack_max_ms": latency_summary(self.acks)["max_ms"],
            "open_ms": opened,
        }


def sustained(
    server: Server,
    requests: Requests,
    fake: FakeSlackProcess,
    plan: Plan,
    database_url: str | None = None,
) -> dict[str, Any]:
    """`/appreciate @a @b` from 8 clients for `plan.sustained_seconds`. With `database_url`
    (Advocate's): modals opened meanwhile, then the time until no stored request is pending;
    the CPU and "done" figures count the work done after the load too."""
    pids = {"server": server.pid, "fake_slack": fake.pid}
    since = time.time()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    lag: dict[str, Any] = {}
    modals = None
    if database_url is None:
        result = post_for(
            server.port, lambda: requests.one("appreciate"), SUSTAINED, plan.sustained_seconds
        )
    else:
        with ModalProbe(server.port, requests, plan.modal_every) as modals:
            result = post_for(
                server.port, lambda: requests.one("appreciate"), SUSTAINED, plan.sustained_seconds
            )
        lag = backlog_drain(database_url, plan.backlog_timeout)
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    stats = fake.stats(since)
    run = summarize_run(result, stats["responded_at"] if database_url else None, cpu)
    run["seconds"] = result.elapsed
    if database_url is not None and modals is not None:
        run["lag"] = lag
        run["lag"]["processed_during_load_rps"] = (
            len(result.latencies) + len(modals.sent_at) - lag["backlog_at_end"]
        ) / result.elapsed
        run["modals"] = modals.summary(stats["opened_at"])
    return run


def backlog_drain(database_url: str, timeout: float) -> dict[str, Any]:
    """From now (the end of a load) until no row of `slack_requests` is pending: how many
    were pending at first, and how long it took (polled every BACKLOG_POLL seconds). After
    `timeout` seconds it gives up: `still_pending` says how many were left."""
    engine = create_engine(database_url)
    began = time.perf_counter()
    backlog: int | None = None
    try:
        while True:
            with engine.connect() as connection:
                pending = int(connection.scalar(PENDING) or 0)
            elapsed = time.perf_counter() - began
            if backlog is None:
                backlog = pending
            if pending == 0 or elapsed > timeout:
                break
            time.sleep(BACKLOG_POLL)
    finally:
        engine.dispose()
    rate = (backlog - pending) / elapsed if elapsed > 0 else float("nan")
    return {
        "backlog_at_end": backlog,
        "drain_s": elapsed,
        "still_pending": pending,
        "drain_rps": rate,
        # When it gave up: how long the whole backlog takes at the rate it went down.
        "projected_drain_s": backlog / rate if pending and rate > 0 else elapsed,
    }


def warm_up(
    server: Server,
    requests: Requests,
    fake: FakeSlackProcess,
    plan: Plan,
    wait: bool,
    commands: Sequence[str] = tuple(COMMANDS),
) -> None:
    for command in commands:
        batch = requests.build(command, plan.warmup)
        since = time.time()
        result = post_all(server.port, batch, Load(1))
        if wait:
            fake.wait_for_responses(set(result.sent_at), DRAIN_TIMEOUT, since)


def with_ratios(
    result: dict[str, Any], bolt: dict[str, Any], inline: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Ack p50 and p99 as multiples of bare Bolt's (`ratio_*`) and of the inline floor's
    (`inline_ratio_*`)."""
    for prefix, base in (("ratio", bolt), ("inline_ratio", inline)):
        if base is not None:
            result[f"{prefix}_p50"] = result["p50_ms"] / base["p50_ms"]
            result[f"{prefix}_p99"] = result["p99_ms"] / base["p99_ms"]
    return result


def at_slack_rate(
    server: Server, requests: Requests, fake: FakeSlackProcess, plan: Plan
) -> dict[str, Any]:
    """`/appreciate @a @b` at SLACK_RATE per second for `plan.slack_rate_seconds`, each
    timed from its planned sending until its post arrived in the channel ("posted")."""
    once = replace(plan, requests=round(SLACK_RATE * plan.slack_rate_seconds))
    return measure(server, requests, fake, "appreciate", AT_SLACK_RATE, once, wait_for_work=True)


def posted_ratios(result: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """Command-to-channel p50 and p99 as multiples of the work floor's."""
    result["ratio_posted_p50"] = result["posted_p50_ms"] / floor["posted_p50_ms"]
    result["ratio_posted_p99"] = result["posted_p99_ms"] / floor["posted_p99_ms"]
    return result


def work_figures(advocate: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """Fully processed requests and channel posts per second, and server CPU per processed
    request, as multiples of the work floor's."""
    return {
        "posted_rps": advocate["posted_rps"],
        "ratio_posted_rps": advocate["posted_rps"] / floor["posted_rps"],
        "done_rps": advocate["done_rps"],
        "server_cpu_ms": advocate["server_cpu_ms"],
        "fake_slack_cpu_ms": advocate["fake_slack_cpu_ms"],
        "api_calls_per_request": advocate.get("api_calls_per_request", {}),
        "ratio_done_rps": advocate["done_rps"] / floor["done_rps"],
        "ratio_cpu": advocate["server_cpu_ms"] / floor["server_cpu_ms"],
    }


def run(
    databases: Databases, backends: list[str], plan: Plan, log: Callable[[str], None]
) -> dict[str, Any]:
    workdir = databases.workdir
    results: dict[str, Any] = {
        "plan": plan.__dict__,
        "paced_rate": PACED_RATE,
        "bolt": {},
        "bolt_inline": {},
        "advocate": {},
        "work": {"advocate": {}},
    }
    if plan.sustained_seconds:
        results["sustained"] = {"seconds": plan.sustained_seconds, "advocate": {}}
    if plan.slack_rate_seconds:
        results["slack_rate"] = {
            "rate": SLACK_RATE,
            "seconds": plan.slack_rate_seconds,
            "advocate": {},
        }
    with FakeSlackProcess(GIVERS, workdir / "fake-slack.log") as fake:
        requests = Requests(fake)
        for name, (label, flags) in BASELINES.items():
            with bolt_server(fake, workdir, name, flags) as server:
                warm_up(server, requests, fake, plan, wait=False)
                for load in LOADS:
                    result = measure(
                        server, requests, fake, "appreciate", load, plan, wait_for_work=False
                    )
                    results[name][load.label] = result
                    log(f"  {label}, {load.label}: {brief(result)}")
                if plan.sustained_seconds:
                    result = sustained(server, requests, fake, plan)
                    results["sustained"][name] = result
                    log(f"  {label}, 8 for {plan.sustained_seconds:g} s: {brief(result)}")
        bolt, inline = results["bolt"], results["bolt_inline"]
        for name in BASELINES:
            for load in LOADS:
                with_ratios(results[name][load.label], bolt[load.label], inline[load.label])
            if plan.sustained_seconds:
                sustained_bolt = results["sustained"]
                with_ratios(
                    sustained_bolt[name], sustained_bolt["bolt"], sustained_bolt["bolt_inline"]
                )
        with bolt_server(fake, workdir, "bolt-work", ["--work"]) as server:
            warm_up(server, requests, fake, plan, wait=True, commands=["appreciate"])
            floor = measure(server, requests, fake, "appreciate", Load(8), plan, wait_for_work=True)
            results["work"]["floor"] = floor
            log(f"  work floor, 8: {brief(floor)}")
            if plan.slack_rate_seconds:
                result = at_slack_rate(server, requests, fake, plan)
                results["slack_rate"]["floor"] = result
                log(f"  work floor, {SLACK_RATE:g}/s: {brief(result)}")
        for backend in backends:
            url = databases.fresh(backend, "ack")
            per_backend: dict[str, Any] = {}
            with advocate_server(fake, url, workdir, f"advocate-{backend}") as server:
                warm_up(server, requests, fake, plan, wait=True)
                for command in COMMANDS:
                    for load in LOADS:
                        if load.rate and command != "appreciate":
                            continue
                        result = measure(
                            server, requests, fake, command, load, plan, wait_for_work=True
                        )
                        with_ratios(result, bolt[load.label], inline[load.label])
                        per_backend.setdefault(command, {})[load.label] = result
                        log(f"  Advocate {backend} {command}, {load.label}: {brief(result)}")
                if plan.slack_rate_seconds:
                    result = posted_ratios(
                        at_slack_rate(server, requests, fake, plan), results["slack_rate"]["floor"]
                    )
                    results["slack_rate"]["advocate"][backend] = result
                    log(f"  Advocate {backend} appreciate, {SLACK_RATE:g}/s: {brief(result)}")
                if plan.sustained_seconds:
                    # Last: its thousands of stored requests would weigh on the other loads.
                    result = sustained(server, requests, fake, plan, url)
                    with_ratios(
                        result, results["sustained"]["bolt"], results["sustained"]["bolt_inline"]
                    )
                    results["sustained"]["advocate"][backend] = result
                    log(
                        f"  Advocate {backend} appreciate, 8 for {plan.sustained_seconds:g} s: "
                        f"{brief(result)}; {brief_lag(result)}"
                    )
            results["advocate"][backend] = per_backend
            work = work_figures(per_backend["appreciate"]["8"], floor)
            results["work"]["advocate"][backend] = work
            log(
                f"  Advocate {backend} work: {work['ratio_posted_rps']:.2f}× the floor's "
                f"channel posts/s, {work['ratio_done_rps']:.2f}× its processed/s, "
                f"{work['ratio_cpu']:.1f}× its CPU per request"
            )
            if plan.compare_in_process:
                results.setdefault("in_process", {})[backend] = in_process(
                    databases, backend, fake, requests, plan, bolt["8"], inline["8"], log
                )
        if plan.slow_slack_requests:
            backend = "postgres" if "postgres" in backends else backends[0]
            result = with_ratios(
                slow_slack(databases, backend, fake, requests, plan), bolt["8"], inline["8"]
            )
            results["slow_slack"] = {"backend": backend, "latency_s": SLACK_LATENCY, **result}
            log(
                f"  Advocate {backend} appreciate, 8, Slack answering in "
                f"{SLACK_LATENCY * 1000:.0f} ms: {brief(result)}"
            )
    return results


def in_process(
    databases: Databases,
    backend: str,
    fake: FakeSlackProcess,
    requests: Requests,
    plan: Plan,
    bolt: dict[str, Any],
    inline: dict[str, Any],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Both commands from 8 clients, with the work in the server's own process."""
    url = databases.fresh(backend, "ack-in-process")
    label = f"advocate-{backend}-in-process"
    results: dict[str, Any] = {}
    with advocate_server(fake, url, databases.workdir, label, module="bench.in_process") as server:
        warm_up(server, requests, fake, plan, wait=True)
        for command in COMMANDS:
            result = measure(server, requests, fake, command, Load(8), plan, wait_for_work=True)
            results[command] = with_ratios(result, bolt, inline)
            log(f"  Advocate {backend} {command}, 8, work in the server process: {brief(result)}")
    return results


def slow_slack(
    databases: Databases, backend: str, fake: FakeSlackProcess, requests: Requests, plan: Plan
) -> dict[str, Any]:
    """`/appreciate` from 8 clients while each Slack API call takes SLACK_LATENCY."""
    url = databases.fresh(backend, "ack-slow")
    with advocate_server(fake, url, databases.workdir, f"advocate-{backend}-slow") as server:
        warm_up(server, requests, fake, plan, wait=True)
        fake.set_latency(SLACK_LATENCY)
        try:
            once = Plan(requests=plan.slow_slack_requests, runs=1, warmup=0)
            return measure(server, requests, fake, "appreciate", Load(8), once, wait_for_work=True)
        finally:
            fake.set_latency(0)


def brief(result: dict[str, Any]) -> str:
    text = (
        f"ack p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"{result['throughput_rps']:.0f} req/s, server CPU {result['server_cpu_ms']:.1f} ms/req"
    )
    if "done_p50_ms" in result:
        text += f"; done p50 {result['done_p50_ms']:.0f} ms, {result['done_rps']:.1f} req/s"
    if "posted_p50_ms" in result:
        text += (
            f"; in the channel p50 {result['posted_p50_ms']:.0f} ms, "
            f"p99 {result['posted_p99_ms']:.0f} ms, {result['posted_rps']:.1f} posts/s"
        )
    if result.get("errors"):
        text += f"; {result['errors']} errors"
    return text


def brief_lag(result: dict[str, Any]) -> str:
    lag, modals = result["lag"], result["modals"]
    emptied = f"emptied in {lag['drain_s']:.1f} s"
    if lag["still_pending"]:
        emptied = (
            f"{lag['still_pending']} left after {lag['drain_s']:.0f} s "
            f"({lag['drain_rps']:.1f}/s; all of it in ~{lag['projected_drain_s']:.0f} s)"
        )
    return (
        f"backlog {lag['backlog_at_end']} {emptied}; "
        f"{modals['opened']}/{modals['sent']} modals opened, p50 {modals['open_p50_ms']:.0f} ms, "
        f"max {modals['open_max_ms']:.0f} ms"
    )
