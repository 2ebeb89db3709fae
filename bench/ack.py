"""1. Ack latency and throughput of signed slash commands, through the production server.

Advocate runs as `advocate run --http --no-scheduler` (waitress, 8 threads) in a child
process, with its worker process (bot/worker.py); the baseline is a bare Bolt
app served the same way (bench/bare_bolt.py). Both talk to the fake Slack, itself a child
process. Closed-loop clients in this process post
signed `/appreciate` requests over keep-alive connections and time each one until the
HTTP response: that is the ack, what Slack sees.

Besides 1 and 8 closed-loop clients (each sends its next request when the last is
answered), one load is open-loop: requests leave at a fixed rate, as Slack sends them,
whatever the answers, and latency counts from the planned sending time.

Advocate acks first and works after the ack; the benchmark waits until every request's
reply reached its response URL before the next run, and reports that too ("done"), with
the CPU time the server (its worker included) and the fake Slack spent per request.
"""

from __future__ import annotations

import http.client
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from tests.support.slack_requests import sign, slash_command_body

EVENTS_PATH = "/slack/events"
APPRECIATE_TEXT = "<@U222> <@U333> for the release"
COMMANDS = {"appreciate": APPRECIATE_TEXT, "stats": "stats"}
PACED_RATE = 10.0  # requests per second in the open-loop load
PACED_THREADS = 32
GIVERS = 1000
DRAIN_TIMEOUT = 600.0
# A typical Web API round trip from a server to Slack, used for one run with a slower Slack.
SLACK_LATENCY = 0.1


@dataclass(frozen=True)
class Plan:
    requests: int  # per run
    runs: int
    warmup: int
    # Requests in the run where every Slack API call takes SLACK_LATENCY (0: no such run).
    slow_slack_requests: int = 0
    # Also run 8 clients against a server doing the work in its own process (bench/in_process.py).
    compare_in_process: bool = False


@dataclass(frozen=True)
class Load:
    """Closed loop (`clients` each waiting for their answer) or open loop (`rate` per s)."""

    clients: int
    rate: float | None = None

    @property
    def label(self) -> str:
        return f"{self.rate:g}/s" if self.rate else str(self.clients)


LOADS = (Load(1), Load(8), Load(PACED_THREADS, rate=PACED_RATE))


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


class Requests:
    """Signed slash-command bodies, each with its own trigger id and response URL key."""

    def __init__(self, fake: FakeSlackProcess) -> None:
        self.fake = fake
        self.serial = itertools.count()
        self.givers = itertools.cycle(giver_ids(GIVERS))

    def build(self, command: str, count: int) -> list[tuple[str, bytes, dict[str, str]]]:
        built = []
        for _ in range(count):
            key = f"r{next(self.serial)}"
            body = slash_command_body(
                command="/appreciate",
                text=COMMANDS[command],
                user_id=next(self.givers),
                response_url=self.fake.response_url(key),
                trigger_id=f"bench.{key}",
            )
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers.update(sign(body, SIGNING_SECRET))
            built.append((key, body, headers))
        return built


def post_all(
    port: int, requests: list[tuple[str, bytes, dict[str, str]]], load: Load
) -> LoadResult:
    """Send `requests` from `load.clients` threads, each with one keep-alive connection;
    with `load.rate`, request i leaves at i / rate seconds and its latency counts from then."""
    order = iter(range(len(requests)))
    lock = threading.Lock()
    latencies: list[float] = []
    sent_at: dict[str, float] = {}
    errors = 0
    began = time.perf_counter()

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                break
            key, body, headers = requests[index]
            start = time.perf_counter()
            if load.rate:
                start = began + index / load.rate
                time.sleep(max(0.0, start - time.perf_counter()))
            sent = time.time()
            try:
                connection.request("POST", EVENTS_PATH, body, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
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


def summarize_run(
    load: LoadResult, responded_at: dict[str, float] | None, cpu: dict[str, float]
) -> dict[str, Any]:
    count = len(load.latencies)
    run: dict[str, Any] = {
        **latency_summary(load.latencies),
        "throughput_rps": count / load.elapsed,
        "errors": load.errors,
        **{f"{name}_cpu_ms": seconds * 1000 / count for name, seconds in cpu.items()},
    }
    if responded_at:
        done = [responded_at[key] - sent for key, sent in load.sent_at.items()]
        span = max(responded_at.values()) - min(load.sent_at.values())
        run["done_p50_ms"] = latency_summary(done)["p50_ms"]
        run["done_p99_ms"] = latency_summary(done)["p99_ms"]
        run["done_rps"] = len(done) / span
    return run


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each per-run figure, and the runs themselves."""
    keys = [k for k in runs[0] if k != "n"]
    combined: dict[str, Any] = {key: median_of(runs, key) for key in keys}
    combined["errors"] = sum(run["errors"] for run in runs)
    combined["requests_per_run"] = runs[0]["n"]
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
) -> Iterator[Server]:
    """`advocate run --http` on a free port, its schema migrated first (`module`
    bench.in_process: with the work in the server's process)."""
    from bot.store import migrate
    from bot.store.db import Database

    db = Database(database_url)
    migrate.upgrade(db.engine)
    db.dispose()
    port = free_port()
    env = python_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.url,
        DATABASE_URL=database_url,
        LOG_LEVEL="INFO",
    )
    args = [sys.executable, "-m", module, "run", "--http", "--no-scheduler", "--port", str(port)]
    # The working directory is the temporary folder: no `.env` there to read.
    log_path = workdir / f"{label}.log"
    with child_process(args, env=env, cwd=workdir, log_path=log_path) as process:
        wait_for_status(f"http://127.0.0.1:{port}/healthz", 200, timeout=60)
        yield Server(port, process.pid)


@contextmanager
def bolt_server(fake: FakeSlackProcess, workdir: Path) -> Iterator[Server]:
    port = free_port()
    env = python_env(SLACK_API_URL=fake.url, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    args = [sys.executable, "-m", "bench.bare_bolt", "--port", str(port)]
    log_path = workdir / "bare-bolt.log"
    with child_process(args, env=env, cwd=REPO, log_path=log_path) as process:
        deadline = time.monotonic() + 30
        while http_status(f"http://127.0.0.1:{port}/") is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the bare Bolt app did not start")
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
    runs = []
    pids = {"server": server.pid, "fake_slack": fake.pid}
    # An open-loop run takes requests / rate seconds whatever the server does: one is enough.
    for _ in range(1 if load.rate else plan.runs):
        batch = requests.build(command, plan.requests)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result = post_all(server.port, batch, load)
        responded = None
        if wait_for_work:
            responded = fake.wait_for_responses(set(result.sent_at), DRAIN_TIMEOUT)
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        runs.append(summarize_run(result, responded, cpu))
    return combine(runs)


def warm_up(
    server: Server, requests: Requests, fake: FakeSlackProcess, plan: Plan, wait: bool
) -> None:
    for command in COMMANDS:
        batch = requests.build(command, plan.warmup)
        result = post_all(server.port, batch, Load(1))
        if wait:
            fake.wait_for_responses(set(result.sent_at), DRAIN_TIMEOUT)


def with_ratios(result: dict[str, Any], bolt: dict[str, Any]) -> dict[str, Any]:
    result["ratio_p50"] = result["p50_ms"] / bolt["p50_ms"]
    result["ratio_p99"] = result["p99_ms"] / bolt["p99_ms"]
    return result


def run(
    databases: Databases, backends: list[str], plan: Plan, log: Callable[[str], None]
) -> dict[str, Any]:
    workdir = databases.workdir
    results: dict[str, Any] = {
        "plan": plan.__dict__,
        "paced_rate": PACED_RATE,
        "bolt": {},
        "advocate": {},
    }
    with FakeSlackProcess(GIVERS, workdir / "fake-slack.log") as fake:
        requests = Requests(fake)
        with bolt_server(fake, workdir) as server:
            warm_up(server, requests, fake, plan, wait=False)
            for load in LOADS:
                result = measure(
                    server, requests, fake, "appreciate", load, plan, wait_for_work=False
                )
                results["bolt"][load.label] = result
                log(f"  bare Bolt, {load.label}: {brief(result)}")
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
                        with_ratios(result, results["bolt"][load.label])
                        per_backend.setdefault(command, {})[load.label] = result
                        log(f"  Advocate {backend} {command}, {load.label}: {brief(result)}")
            results["advocate"][backend] = per_backend
            if plan.compare_in_process:
                results.setdefault("in_process", {})[backend] = in_process(
                    databases, backend, fake, requests, plan, results["bolt"]["8"], log
                )
        if plan.slow_slack_requests:
            backend = "postgres" if "postgres" in backends else backends[0]
            result = with_ratios(
                slow_slack(databases, backend, fake, requests, plan), results["bolt"]["8"]
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
            results[command] = with_ratios(result, bolt)
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
    if result.get("errors"):
        text += f"; {result['errors']} errors"
    return text
