"""What every benchmark shares: constants, statistics, databases, ports and processes."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from sqlalchemy import create_engine, make_url, text

REPO = Path(__file__).resolve().parent.parent
# tests.support (FakeSlack, request signing) is imported from the repository itself.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TEAM = "T111"
BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/advocate_bench"
# Databases other people use: the benchmarks refuse to touch them.
PROTECTED_DATABASES = {"test", "postgres", "template0", "template1"}
BACKENDS = ("sqlite", "postgres")


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolated between the two nearest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of latencies, in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000 if seconds else float("nan"),
    }


def median_of(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def time_calls(call: Callable[[], object], repeats: int, *, budget: float = 15.0) -> list[float]:
    """Wall times (seconds) of `repeats` calls, after one untimed warm-up call.

    A case whose warm-up alone takes more than `budget` seconds is timed by that call only,
    and repeats stop (after at least three) once `budget` is spent, so one slow case on a
    slow backend cannot take the whole run.
    """
    begin = time.perf_counter()
    call()
    first = time.perf_counter() - begin
    if first > budget:
        return [first]
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(repeats):
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
        if len(times) >= 3 and time.perf_counter() - started > budget:
            break
    return times


def timing_summary(times: Sequence[float]) -> dict[str, float]:
    """Median (and spread) of repeated timings, in milliseconds."""
    return {
        "runs": len(times),
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
    }


# ---------------------------------------------------------------- databases


@dataclass(frozen=True)
class Databases:
    """Where each backend's benchmark data lives: SQLite files in a temporary folder, and
    one PostgreSQL database that belongs to the benchmarks alone."""

    workdir: Path
    postgres_url: str = DEFAULT_POSTGRES_URL

    def fresh(self, backend: str, label: str) -> str:
        """The URL of an empty database for `label` (its schema not yet created)."""
        if backend == "sqlite":
            path = self.workdir / f"{label}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        if backend == "postgres":
            reset_postgres(self.postgres_url)
            return self.postgres_url
        raise ValueError(f"unknown backend {backend!r}")


def add_postgres_url(parser: argparse.ArgumentParser) -> None:
    """The `--postgres-url` option of the tools in bench/ that start what they measure."""
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ADVOCATE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database of the benchmarks' own: it is emptied (default: %(default)s)",
    )


def check_postgres_url(url: str) -> None:
    name = make_url(url).database or ""
    if name in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to use the PostgreSQL database {name!r}: it is not ours")


def reset_postgres(url: str) -> None:
    """Create the benchmark database if needed, then empty it (drop and recreate `public`)."""
    check_postgres_url(url)
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        server.dispose()
    engine = create_engine(target, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def postgres_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.scalar(text("SHOW server_version")))
    finally:
        engine.dispose()


# ---------------------------------------------------------------- ports and processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        with urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except URLError as error:
        code = getattr(error, "code", None)
        return int(code) if code is not None else None
    except OSError:
        return None


def wait_for_status(url: str, status: int, timeout: float, poll: float = 0.01) -> float:
    """Poll `url` until it answers `status`; returns the seconds it took."""
    started = time.perf_counter()
    while http_status(url, timeout=1.0) != status:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{url} did not answer {status} within {timeout:.0f} s")
        time.sleep(poll)
    return time.perf_counter() - started


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: the repository importable, no stray Slack or
    database settings inherited from the shell."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "ADVOCATE_", "DATABASE_URL"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@contextlib.contextmanager
def child_process(
    args: Sequence[str], *, env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child with its output in `log_path`; stop it (SIGTERM, then SIGKILL) after."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(args), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (`advocate run --http` has a worker process), from
    /proc (Linux)."""
    found = [pid]
    for member in found:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{member}/task").iterdir():
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process and its descendants have used so far, from /proc
    (Linux)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            # After the command name: state is field 3, utime field 14 and stime field 15.
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    return _memory_kb(Path(f"/proc/{pid}/status"), "VmRSS:") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size of a process: its resident pages, each shared page divided
    among the processes sharing it, so that the figures of several processes add up."""
    return _memory_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") / 1024


def memory_of_tree(pid: int) -> dict[str, float]:
    """RSS of a process and of each descendant, and the PSS of them all together."""
    members = process_tree(pid)
    figures = {"rss_mb": rss_mb(pid), "pss_total_mb": 0.0, "rss_children_mb": 0.0}
    for member in members:
        with contextlib.suppress(OSError):
            figures["pss_total_mb"] += pss_mb(member)
            if member != pid:
                figures["rss_children_mb"] += rss_mb(member)
    figures["processes"] = len(members)
    return figures


def _memory_kb(path: Path, field: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in {path}")


# ---------------------------------------------------------------- the machine


def machine(postgres_url: str | None) -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = float("nan")
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = int(line.split()[1]) / 1024 / 1024
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if postgres_url:
        try:
            info["postgresql"] = postgres_version(postgres_url)
        except Exception as error:  # reported, not fatal: the SQLite half still runs
            info["postgresql"] = f"unavailable ({type(error).__name__})"
    import sqlite3

    info["sqlite"] = sqlite3.sqlite_version
    return info
