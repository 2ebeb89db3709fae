"""Where Advocate's worker process spends its CPU time: `python -m bench.profiled`.

`python -m bench.profiled [--backend sqlite|postgres] [--requests N] [--top K] [--out FILE]`
starts the fake Slack (bench/fakeslack.py) and Advocate (`advocate run --http
--no-scheduler`, through this module) with its worker process profiled, sends N
`/appreciate @a @b …` from 8 clients, waits until every reply reached its response URL,
stops the server, and prints per processed request: the functions that used the most CPU
time themselves (*self*) and with what they call (*cumulative*), and the self time summed
by package.

The worker is profiled by cProfile with `time.thread_time` as its clock and one profiler per
thread (each of the worker's threads gets its own as it starts), so a thread waiting for the
database or for Slack counts nothing. When the worker stops, the profiles are merged and
written, in pstats format, to the file ADVOCATE_BENCH_PROFILE names. The lookout's polling
and the start-up of the workers are counted too, spread over the requests. cProfile slows
down code that makes many small calls more than code that makes few, so the shares are
what to read, not the totals.

`python -m bench.profiled run --http ...` is the server itself: `advocate run` with that
profiler in its worker process (forked from the server, so the patch below reaches it).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench.common import REPO, Databases, add_postgres_url, check_postgres_url, cpu_seconds

PROFILE_ENV = "ADVOCATE_BENCH_PROFILE"
CLIENTS = 8


# ---------------------------------------------------------------- the profiled server


def profiled(run_workers: Callable[..., None]) -> Callable[..., None]:
    """`run_workers` with each thread it starts profiled, the profiles written at its end."""

    def run_profiled(settings: Any, **options: Any) -> None:
        profiles: list[cProfile.Profile] = []
        lock = threading.Lock()

        def start_profiling(frame: FrameType, event: str, arg: Any) -> None:
            # Called once, on the new thread's first event: the profiler replaces it.
            profile = cProfile.Profile(time.thread_time)
            with lock:
                profiles.append(profile)
            profile.enable()

        threading.setprofile(start_profiling)
        try:
            run_workers(settings, **options)
        finally:
            threading.setprofile(None)
            with lock:
                if profiles:
                    merged = pstats.Stats(profiles[0])
                    for profile in profiles[1:]:
                        merged.add(profile)
                    merged.dump_stats(os.environ[PROFILE_ENV])

    return run_profiled


def serve(argv: list[str]) -> int:
    from bot import cli, worker

    worker.run_workers = profiled(worker.run_workers)
    return cli.main(argv)


# ---------------------------------------------------------------- the measurement


def measure(backend: str, requests: int, postgres_url: str, workdir: Path, out: Path) -> float:
    """Run the profiled server through `requests` `/appreciate @a @b …`; the server's and
    its worker's CPU ms per request, measured from /proc (profiler overhead included)."""
    from bench.ack import GIVERS, Load, Requests, advocate_server, post_all
    from bench.fakeslack import FakeSlackProcess

    url = Databases(workdir, postgres_url).fresh(backend, "profiled")
    with FakeSlackProcess(GIVERS, workdir / "fake-slack.log") as fake:
        signed = Requests(fake)
        env = {PROFILE_ENV: str(out)}
        with advocate_server(
            fake, url, workdir, "advocate-profiled", module="bench.profiled", env=env
        ) as server:
            before = cpu_seconds(server.pid)
            since = time.time()
            result = post_all(server.port, signed.build("appreciate", requests), Load(CLIENTS))
            fake.wait_for_responses(set(result.sent_at), 1800, since)
            used = cpu_seconds(server.pid) - before
    if not out.exists():
        raise SystemExit(f"the worker wrote no profile; see {workdir}/advocate-profiled.log")
    return used * 1000 / requests


def area(file: str, name: str) -> str:
    """Where a function lives: a package, a folder of the repository, a module of the
    standard library, or a built-in's own name."""
    if file == "~":
        return name
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    path = Path(file)
    if path.is_relative_to(REPO):
        parts = path.relative_to(REPO).parts
        return "/".join(parts[:2])
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if path.is_relative_to(stdlib):
        return "stdlib: " + path.relative_to(stdlib).parts[0].removesuffix(".py")
    return file


def where(key: tuple[str, int, str]) -> str:
    file, line, name = key
    if file == "~":
        return name
    path = Path(file)
    paths = sysconfig.get_paths()
    # The virtual environment is inside the repository: its packages first.
    for root in (Path(paths["purelib"]), REPO, Path(paths["stdlib"])):
        if path.is_relative_to(root):
            path = path.relative_to(root)
            break
    return f"{path}:{line} {name}"


def report(profile: Path, processed: int, measured_ms: float, top: int) -> str:
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    per = 1000 / processed
    total = sum(tt for _, _, tt, _, _ in stats.values())
    lines = [
        f"{processed} `/appreciate @a @b …` from {CLIENTS} clients. Worker CPU in profiled "
        f"functions: {total * per:.1f} ms per request (cProfile's overhead included); "
        f"server and worker processes: {measured_ms:.1f} ms per request.",
        "",
        "Self CPU time by package (ms per request, share of the profiled total):",
        "",
        "| where | ms/req | share |",
        "|---|---|---|",
    ]
    areas: dict[str, float] = {}
    for (file, _, name), (_, _, tt, _, _) in stats.items():
        areas[area(file, name)] = areas.get(area(file, name), 0.0) + tt
    for name, seconds in sorted(areas.items(), key=lambda item: item[1], reverse=True)[:top]:
        lines.append(f"| {name} | {seconds * per:.2f} | {seconds / total:.0%} |")
    own = str(REPO / "bot")
    for title, column, only_ours in (
        ("Self CPU time", 2, False),
        ("Cumulative CPU time", 3, False),
        ("Cumulative CPU time of Advocate's own functions (bot/)", 3, True),
    ):
        lines += [
            "",
            f"{title}, top {top} (ms and calls per request):",
            "",
            "| function | self ms | cumulative ms | calls |",
            "|---|---|---|---|",
        ]
        chosen = [item for item in stats.items() if not only_ours or item[0][0].startswith(own)]
        ranked = sorted(chosen, key=lambda item: item[1][column], reverse=True)
        for key, (_, calls, tt, ct, _) in ranked[:top]:
            lines.append(
                f"| `{where(key)}` | {tt * per:.2f} | {ct * per:.2f} | {calls / processed:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return serve(argv)
    parser = argparse.ArgumentParser(prog="python -m bench.profiled", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", type=Path, help="keep the merged profile (pstats) here")
    add_postgres_url(parser)
    args = parser.parse_args(argv)
    if args.backend == "postgres":
        check_postgres_url(args.postgres_url)
    workdir = Path(tempfile.mkdtemp(prefix="advocate-profile-"))
    try:
        out = (args.out or workdir / "worker.prof").resolve()
        out.unlink(missing_ok=True)
        measured = measure(args.backend, args.requests, args.postgres_url, workdir, out)
        print(report(out, args.requests, measured, args.top))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
