"""Run the benchmarks: `python -m bench [--quick] [--backend sqlite|postgres|both]`.

Sections (all by default, or some with --only): ack, history, checkins, home, memory,
recap, retention.
Results are printed as they come, then as Markdown tables; --out saves them as JSON and
--markdown saves the tables. Where the worker's CPU time goes is a separate tool:
`python -m bench.profiled` (bench/profiled.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ack, checkins, history, home, insights, memory, recap, retention
from bench.common import (
    BACKENDS,
    DEFAULT_POSTGRES_URL,
    REPO,
    Databases,
    check_postgres_url,
    machine,
)
from bench.common import reset_postgres as prepare_postgres
from bench.report import render

SECTIONS = ("ack", "history", "checkins", "home", "memory", "recap", "retention", "insights")
MILLION = 1_000_000


@dataclass(frozen=True)
class Scale:
    """How much each section does."""

    ack: ack.Plan
    sizes: list[int]  # history sizes, in appreciations
    repeats: int  # timed calls per case (history, check-ins; twice as many for the Home)
    starts: int  # server starts timed
    burst: int  # requests in the memory burst
    outbox_weeks: int  # earlier weeks of sent check-ins in the outbox
    recap_size: int  # appreciations in the recap's year
    insights_size: int  # appreciations in the insights page's year
    retention: retention.Plan


FULL = Scale(
    ack=ack.Plan(
        requests=150,
        runs=5,
        warmup=10,
        sustained_seconds=60,
        modal_every=2.0,
        # A minute of overload stores far more than the workers do in a minute: past this,
        # the report gives what is left and the rate it was going down at.
        backlog_timeout=300.0,
        slow_slack_requests=80,
        compare_in_process=True,
        slack_rate_seconds=30,
    ),
    sizes=[10_000, 100_000, MILLION],
    repeats=5,
    starts=3,
    burst=2_000,
    outbox_weeks=52,
    recap_size=MILLION,
    insights_size=MILLION,
    retention=retention.Plan(people=5_000, per_day=1_000, ticks=retention.WEEK_OF_TICKS),
)
QUICK = Scale(
    ack=ack.Plan(
        requests=30,
        runs=1,
        warmup=3,
        sustained_seconds=3,
        modal_every=0.5,
        # Past the load's length the drain target is missed: a little more gives its rate.
        backlog_timeout=4.0,
        slack_rate_seconds=5,
    ),
    sizes=[10_000],
    repeats=2,
    starts=1,
    burst=100,
    outbox_weeks=0,
    recap_size=20_000,
    insights_size=20_000,
    retention=retention.Plan(people=500, per_day=100, ticks=retention.TICKS_A_DAY),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short run, for CI (under two minutes)"
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--only", help=f"comma-separated sections among {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the result tables here")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ADVOCATE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database of the benchmarks' own: it is emptied (default: %(default)s)",
    )
    parser.add_argument(
        "--sqlite-cap",
        type=int,
        default=100_000,
        help="largest history on SQLite; at 1000000 a digest takes minutes (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    args.backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    args.sections = SECTIONS if not args.only else tuple(args.only.split(","))
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if "postgres" in args.backends:
        check_postgres_url(args.postgres_url)
        prepare_postgres(args.postgres_url)
    workdir = Path(tempfile.mkdtemp(prefix="advocate-bench-"))
    databases = Databases(workdir, args.postgres_url)
    log = printer()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "backends": args.backends,
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(args.postgres_url if "postgres" in args.backends else None),
        "code": revision(),
        "sections": {},
    }
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "ack": lambda: ack.run(databases, args.backends, plan.ack, log),
        "history": lambda: history.run(
            databases, args.backends, plan.sizes, plan.repeats, args.sqlite_cap, log
        ),
        "checkins": lambda: checkins.run(
            databases, args.backends, plan.repeats, plan.outbox_weeks, log
        ),
        "home": lambda: home.run(databases, args.backends, plan.repeats * 2, log),
        "memory": lambda: memory.run(workdir, plan.starts, plan.burst, log),
        "recap": lambda: recap.run(databases, args.backends, plan.recap_size, plan.repeats, log),
        "retention": lambda: retention.run(databases, args.backends, plan.retention, log),
        "insights": lambda: insights.run(
            databases, args.backends, plan.insights_size, args.sqlite_cap, plan.repeats, log
        ),
    }
    began = time.perf_counter()
    try:
        for name in args.sections:
            log(f"{name}:")
            load_before = os.getloadavg()
            section_began = time.perf_counter()
            result = runners[name]()
            result["seconds"] = time.perf_counter() - section_began
            result["load_average"] = {"before": load_before, "after": os.getloadavg()}
            results["sections"][name] = result
    finally:
        results["seconds"] = time.perf_counter() - began
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    tables = render(results)
    print(tables)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(tables)
    log(f"done in {results['seconds']:.0f} s")
    return 0


def revision() -> dict[str, Any]:
    """The commit measured, and whether bot/ or migrations/ differ from it."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", *command], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--", "bot", "migrations")),
    }


def printer() -> Callable[[str], None]:
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)

    return log
