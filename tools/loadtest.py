"""Load test on loopback: signed Slack requests against `advocate run --http`.

    python -m tools.loadtest                 # 8 and 32 clients, 60 s each, PostgreSQL
    python -m tools.loadtest --soak 600      # plus a 10-minute soak, memory at start and end
    python -m tools.loadtest --seconds 5 --clients 8 --database sqlite   # a quick look

The app runs as its own process (the production HTTP server), talking to a local fake
Slack Web API. Reports ack latency (p50/p99), errors, and duplicates: every command must be
answered once, and every appreciation recorded and posted once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import memory_of_tree, process_tree  # noqa: E402
from bot.store.models import Appreciation  # noqa: E402
from tests.support.fake_slack import FakeSlack  # noqa: E402
from tests.support.slack_requests import (  # noqa: E402
    SlackClientForTests,
    block_actions_payload,
    interactive_body,
)

SECRET = "load-test-secret"
# Enough people that at about 60 requests/s nobody reaches the daily limit (100) during a
# soak; a refusal by the limit is counted apart, not as a lost appreciation.
PEOPLE = [f"U{n:05d}" for n in range(1000)]
DAILY_LIMIT_REPLY = "appreciations today, the most one person can"
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
PROTECTED_DATABASES = {"postgres", "test", "template0", "template1"}
# How often the soak records the app's memory, to show whether it levels off.
SOAK_SAMPLE_SECONDS = 30


@dataclass
class Result:
    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    throughput_rps: float = 0.0
    commands_unanswered: int = 0
    commands_answered_twice: int = 0
    appreciations_sent: int = 0
    appreciations_refused_daily_limit: int = 0
    appreciations_recorded: int = 0
    channel_posts: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int) -> float:
    """What the server and its worker process take together: the sum of their proportional
    set sizes (each page they share counted once; bench/memory.py says more)."""
    return memory_of_tree(pid)["pss_total_mb"]


def fresh_database(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'load.db'}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to drop the database {name!r}: name one of the test's own")
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.format(name)


# Loaded by the app's interpreter with --tracemalloc: traces allocations from the start and
# writes a snapshot each time the process gets SIGUSR1. The worker process, forked from the
# server, inherits both and names its snapshots with its own process id.
TRACE_SITECUSTOMIZE = """
import itertools, os, signal, tracemalloc
tracemalloc.start(10)
_numbers = itertools.count()
def _snapshot(signum, frame):
    name = f"snapshot-{os.getpid()}-{next(_numbers)}.pickle"
    tracemalloc.take_snapshot().dump(os.path.join(os.environ["LOADTEST_TRACE_DIR"], name))
signal.signal(signal.SIGUSR1, _snapshot)
"""


def start_app(
    slack: FakeSlack, database_url: str, folder: Path, trace: bool = False
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if trace:
        (folder / "sitecustomize.py").write_text(TRACE_SITECUSTOMIZE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ADVOCATE_"))},
        **({"PYTHONPATH": str(folder), "LOADTEST_TRACE_DIR": str(folder)} if trace else {}),
        "SLACK_BOT_TOKEN": "xoxb-load",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "ADVOCATE_DAILY_LIMIT": "100",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the app did not start")


def one_request(
    client: SlackClientForTests, slack: FakeSlack, rng: random.Random, sent: list[str]
) -> tuple[str, int, float]:
    """Send one request of a realistic mix; returns (kind, status, seconds)."""
    user = rng.choice(PEOPLE)
    roll = rng.random()
    started = time.perf_counter()
    if roll < 0.35:
        key = uuid.uuid4().hex
        sent.append(key)
        others = rng.sample([p for p in PEOPLE if p != user], 2)
        status, _ = client.command(
            command="/appreciate",
            text=f"<@{others[0]}> <@{others[1]}> for the release",
            user_id=user,
            response_url=slack.response_url(key),
            trigger_id=key,
        )
        kind = "appreciate"
    elif roll < 0.55:
        key = "stats-" + uuid.uuid4().hex
        sent.append(key)
        status, _ = client.command(
            command="/appreciate",
            text="stats",
            user_id=user,
            response_url=slack.response_url(key),
            trigger_id=key,
        )
        kind = "stats"
    elif roll < 0.85:
        status, _ = client.event(
            {
                "type": "app_home_opened",
                "user": user,
                "tab": "home",
                "channel": "D1",
                "event_ts": f"{time.time():.6f}",
            }
        )
        kind = "home"
    else:
        payload = block_actions_payload(
            action_id="appreciate_open_modal", user_id=user, view={"id": "VH", "type": "home"}
        )
        status, _, _ = client.post(
            "/slack/events", interactive_body(payload), "application/x-www-form-urlencoded"
        )
        kind = "click"
    return kind, status, time.perf_counter() - started


def recorded_so_far(engine_url: str) -> int:
    engine = create_engine(engine_url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count(Appreciation.id))).scalar_one()
    engine.dispose()
    return int(count)


def run_load(url: str, slack: FakeSlack, clients: int, seconds: float, engine_url: str) -> Result:
    """`clients` threads send the mix for `seconds`; then the outcome is checked."""
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    errors = 0
    sent: list[str] = []
    lock = threading.Lock()
    slack.reset_calls()
    already = recorded_so_far(engine_url)
    posts_before = len(slack.messages("C111"))
    stop_at = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        client = SlackClientForTests(url, SECRET)
        rng = random.Random(seed)
        mine: list[str] = []
        while time.monotonic() < stop_at:
            kind, status, elapsed = one_request(client, slack, rng, mine)
            with lock:
                latencies.append(elapsed)
                kinds[kind] = kinds.get(kind, 0) + 1
                errors += status != 200
        with lock:
            sent.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Work after the ack finishes in the app's threads: wait until every command is answered.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answered = {p["_key"] for p in slack.response_url_posts()}
        if answered >= set(sent):
            break
        time.sleep(0.5)
    time.sleep(2)
    replies: dict[str, int] = {}
    refused = 0
    ours = set(sent)
    for post in slack.response_url_posts():
        if post["_key"] in ours:
            replies[post["_key"]] = replies.get(post["_key"], 0) + 1
            refused += DAILY_LIMIT_REPLY in str(post.get("text", ""))
    recorded = recorded_so_far(engine_url) - already
    ordered = sorted(latencies)
    return Result(
        clients=clients,
        seconds=seconds,
        requests=len(ordered),
        errors=errors,
        by_kind=kinds,
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p99_ms=round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        throughput_rps=round(len(ordered) / seconds, 1),
        commands_unanswered=len([k for k in sent if k not in replies]),
        commands_answered_twice=len([k for k, n in replies.items() if n > 1]),
        appreciations_sent=len([k for k in sent if not k.startswith("stats-")]),
        appreciations_refused_daily_limit=refused,
        appreciations_recorded=recorded,
        channel_posts=len(slack.messages("C111")) - posts_before,
    )


def take_snapshots(process: subprocess.Popen, folder: Path) -> dict[str, Path]:
    """Have the traced server and its worker each write a tracemalloc snapshot."""
    pids = process_tree(process.pid)
    names = {pid: "server" if pid == process.pid else "worker" for pid in pids}
    before = set(folder.glob("snapshot-*.pickle"))
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    written: dict[str, Path] = {}
    for _ in range(600):
        for path in set(folder.glob("snapshot-*.pickle")) - before:
            pid = int(path.name.split("-")[1])
            if pid in names and names[pid] not in written:
                size = -1
                while size != path.stat().st_size:  # written in one go, but wait for it
                    size = path.stat().st_size
                    time.sleep(0.5)
                written[names[pid]] = path
        if len(written) == len(pids):
            return written
        time.sleep(0.1)
    raise RuntimeError("the app wrote no snapshot")


def grown_since(first: Path, second: Path, top: int = 15) -> list[str]:
    """The lines whose live allocations grew most between two snapshots."""
    import tracemalloc

    old = tracemalloc.Snapshot.load(str(first))
    new = tracemalloc.Snapshot.load(str(second))
    total = sum(s.size for s in new.statistics("filename")) - sum(
        s.size for s in old.statistics("filename")
    )
    lines = [f"total traced growth: {total / 1024:.1f} KiB"]
    lines += [str(stat) for stat in new.compare_to(old, "lineno")[:top]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--clients", type=int, nargs="*", default=[8, 32])
    parser.add_argument(
        "--postgres-database",
        default="advocate_load",
        help="a database of the load test's own: it is dropped and created again",
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--soak", type=float, default=0, help="soak seconds (memory start/end)")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the app's allocations; print what grew during the soak, by line",
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"database": args.database, "runs": []}
    with tempfile.TemporaryDirectory() as tmp, FakeSlack(team_id="T111") as slack:
        for person in PEOPLE:
            slack.add_user(
                person,
                tz=random.Random(person).choice(
                    ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"]
                ),
            )
        database_url = fresh_database(args.database, Path(tmp), args.postgres_database)
        process, url = start_app(slack, database_url, Path(tmp), trace=args.tracemalloc)
        try:
            report["memory_mb_at_start"] = round(memory_mb(process.pid), 1)
            for clients in args.clients:
                result = run_load(url, slack, clients, args.seconds, database_url)
                report["runs"].append(asdict(result))
                print(json.dumps(asdict(result)), flush=True)
            if args.soak:
                report["memory_mb_before_soak"] = round(memory_mb(process.pid), 1)
                samples: list[float] = []
                done = threading.Event()

                def sample_memory() -> None:
                    while not done.wait(SOAK_SAMPLE_SECONDS):
                        samples.append(round(memory_mb(process.pid), 1))

                sampler = threading.Thread(target=sample_memory, daemon=True)
                sampler.start()
                snapshots = take_snapshots(process, Path(tmp)) if args.tracemalloc else None
                soak = run_load(url, slack, 8, args.soak, database_url)
                done.set()
                sampler.join()
                if snapshots is not None:
                    later = take_snapshots(process, Path(tmp))
                    report["grown_during_soak"] = {
                        name: grown_since(path, later[name]) for name, path in snapshots.items()
                    }
                report["soak"] = asdict(soak)
                report["memory_mb_after_soak"] = round(memory_mb(process.pid), 1)
                report["memory_mb_during_soak"] = samples
            report["memory_mb_at_end"] = round(memory_mb(process.pid), 1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(json.dumps(report, indent=2))
    failed = any(
        r["errors"]
        or r["commands_unanswered"]
        or r["commands_answered_twice"]
        or not r["appreciations_sent"] - r["appreciations_refused_daily_limit"]
        == r["appreciations_recorded"]
        == r["channel_posts"]
        for r in report["runs"] + ([report["soak"]] if "soak" in report else [])
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
