"""5. Start-up time and memory of `advocate run --http` (SQLite, the fake Slack).

Start-up is the time from starting the process until `/healthz` answers 200, on a new
database (the migrations run at start) and on one already migrated. Memory is measured
when idle after start, at its peak during a burst of signed requests (half `/appreciate`,
half `/appreciate stats`, 8 clients), and once the burst's work is done. The scheduler
runs, as in production.

`advocate run --http` is two processes, the server and its worker (bot/worker.py),
forked from it and sharing the pages of the code both load. The resident set size (RSS) of
each counts those shared pages in full, so the two RSS figures overlap; the proportional
set size (PSS) divides each shared page among the processes sharing it, and its sum over
both is the memory the pair takes. The target applies to that sum.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.ack import DRAIN_TIMEOUT, GIVERS, Load, Requests, post_all
from bench.common import (
    BOT_TOKEN,
    SIGNING_SECRET,
    child_process,
    free_port,
    memory_of_tree,
    python_env,
    wait_for_status,
)
from bench.fakeslack import FakeSlackProcess

TARGET_MB = 150
IDLE_SETTLE_SECONDS = 2.0


@contextmanager
def advocate(fake: FakeSlackProcess, database: Path, log_path: Path) -> Iterator[tuple[Any, int]]:
    port = free_port()
    env = python_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.url,
        DATABASE_URL=f"sqlite:///{database}",
    )
    args = [sys.executable, "-m", "bot", "run", "--http", "--port", str(port)]
    with child_process(args, env=env, cwd=database.parent, log_path=log_path) as process:
        yield process, port


def start_up(fake: FakeSlackProcess, workdir: Path, starts: int) -> dict[str, Any]:
    """Seconds until /healthz answers 200: on new databases, then on a migrated one."""
    fresh: list[float] = []
    migrated: list[float] = []
    for n in range(starts):
        database = workdir / f"startup-{n}.db"
        database.unlink(missing_ok=True)
        for times in (fresh, migrated):  # the second start finds the schema in place
            began = time.perf_counter()
            with advocate(fake, database, workdir / "startup.log") as (_, port):
                wait_for_status(f"http://127.0.0.1:{port}/healthz", 200, timeout=60, poll=0.005)
                times.append(time.perf_counter() - began)
    return {
        "new_database_s": statistics.median(fresh),
        "migrated_database_s": statistics.median(migrated),
        "starts": starts,
        "runs": {"new_database": fresh, "migrated_database": migrated},
    }


class PeakSampler:
    """Samples the memory of a process and its worker in the background and keeps the
    highest value of each figure."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid = pid
        self.every = every
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = highest(self.peak, memory_of_tree(self.pid))
            self._stop.wait(self.every)


def highest(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: max(a.get(key, 0.0), value) for key, value in b.items()}


def burst(fake: FakeSlackProcess, workdir: Path, requests: int) -> dict[str, Any]:
    database = workdir / "memory.db"
    database.unlink(missing_ok=True)
    with advocate(fake, database, workdir / "memory.log") as (process, port):
        wait_for_status(f"http://127.0.0.1:{port}/healthz", 200, timeout=60)
        time.sleep(IDLE_SETTLE_SECONDS)
        idle = memory_of_tree(process.pid)
        builder = Requests(fake)
        appreciate = builder.build("appreciate", requests // 2)
        stats = builder.build("stats", requests // 2)
        # The two commands interleaved, as a workspace would send them.
        batch = [item for pair in zip(appreciate, stats, strict=True) for item in pair]
        began = time.perf_counter()
        with PeakSampler(process.pid) as sampler:
            load = post_all(port, batch, Load(8))
            fake.wait_for_responses(set(load.sent_at), DRAIN_TIMEOUT)
        took = time.perf_counter() - began
        time.sleep(IDLE_SETTLE_SECONDS)
        after = memory_of_tree(process.pid)
    return {
        "idle": idle,
        "peak": highest(sampler.peak, after),
        "after": after,
        "requests": len(batch),
        "errors": load.errors,
        "burst_seconds": took,
        "givers": GIVERS,
    }


def run(workdir: Path, starts: int, requests: int, log: Callable[[str], None]) -> dict[str, Any]:
    with FakeSlackProcess(GIVERS, workdir / "fake-slack-memory.log") as fake:
        startup = start_up(fake, workdir, starts)
        log(
            f"  start-up: {startup['new_database_s']:.2f} s (new database), "
            f"{startup['migrated_database_s']:.2f} s (migrated)"
        )
        memory = burst(fake, workdir, requests)
        log(
            f"  server and worker, PSS: idle {memory['idle']['pss_total_mb']:.0f} MB, "
            f"peak {memory['peak']['pss_total_mb']:.0f} MB, after {memory['requests']:,} "
            f"requests {memory['after']['pss_total_mb']:.0f} MB "
            f"({memory['burst_seconds']:.0f} s); server RSS "
            f"{memory['after']['rss_mb']:.0f} MB, worker RSS "
            f"{memory['after']['rss_children_mb']:.0f} MB"
        )
    return {"target_mb": TARGET_MB, "startup": startup, "memory": memory}
