"""Where a command's time goes, step by step, from the request to its channel post:
`python -m bench.timeline`.

`python -m bench.timeline [--backend sqlite|postgres] [--commands N] [--rate R]` starts
the fake Slack (bench/fakeslack.py) and Advocate (`advocate run --http --no-scheduler`,
through this module), sends N `/appreciate @a @b …` on a schedule at R per second (open
loop, as Slack sends them), and prints the median and 90th percentile of each step, in
wall-clock milliseconds:

    storing the request (server) → the worker's claim → the settings → the people lately
    known → `users.info` → recording the appreciation → the channel post

Each step is timed where it runs, in the server or its worker process, by wrapping the
function that does it; the times are written to a folder (ADVOCATE_BENCH_TIMELINE) and
joined by the request's key. With `--statements`, every SQL statement inside the
recording is timed too, and the gaps between them (the Python that builds them).

`python -m bench.timeline run --http ...` is the server itself, with those wrappers (set
in the server before its worker process is forked from it).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import Databases, add_postgres_url, check_postgres_url

TIMELINE_ENV = "ADVOCATE_BENCH_TIMELINE"
STATEMENTS_ENV = "ADVOCATE_BENCH_TIMELINE_STATEMENTS"
# Each step: its name, and the event that ends it (the one before it starts it).
STEPS = [
    ("storing the request", "store", "stored"),
    ("until the worker's claim", "stored", "claimed"),
    ("the settings", "settings0", "settings"),
    ("the people lately known", "known0", "known"),
    ("users.info", "lookup0", "lookup"),
    ("recording the appreciation", "record0", "record"),
    ("the channel post", "post0", "post"),
]


# ---------------------------------------------------------------- the timed server


def serve(argv: list[str]) -> int:
    from bot import cli, pipeline
    from bot.listeners import common
    from bot.services import appreciation
    from bot.slack import outbox, people

    folder = Path(os.environ[TIMELINE_ENV])
    current = threading.local()

    def note(event: str) -> None:
        with open(folder / f"{os.getpid()}.txt", "a") as out:
            out.write(f"{getattr(current, 'key', '-')} {event} {time.time():.6f}\n")

    def timed(owner: Any, name: str, event: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def run(*args: Any, **kwargs: Any) -> Any:
            note(event + "0")
            try:
                return original(*args, **kwargs)
            finally:
                note(event)

        setattr(owner, name, run)

    persist, attempt = pipeline.Pipeline._persist, pipeline.Workers._attempt

    def stored(self: Any, request: Any, delivery: Any) -> Any:
        current.key = delivery.key
        note("store")
        try:
            return persist(self, request, delivery)
        finally:
            note("stored")

    def claimed(self: Any, row: Any) -> Any:
        current.key = row.key
        note("claimed")
        return attempt(self, row)

    pipeline.Pipeline._persist = stored  # type: ignore[method-assign]
    pipeline.Workers._attempt = claimed  # type: ignore[method-assign]
    timed(common, "for_workspace", "settings")
    timed(people, "known", "known")
    timed(people, "lookup", "lookup")
    timed(appreciation, "record", "record")
    timed(outbox.OutboxSender, "_post", "post")
    if os.environ.get(STATEMENTS_ENV):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def table(statement: str) -> str:
            words = statement.split()
            for before, after in itertools.pairwise(words):
                if before.upper() in ("INTO", "UPDATE", "FROM"):
                    return f"{words[0].upper()}_{after}"
            return words[0].upper()

        event.listen(Engine, "before_cursor_execute", lambda *a: note("sql0:" + table(a[2])))
        event.listen(Engine, "after_cursor_execute", lambda *a: note("sql:" + table(a[2])))
        event.listen(Engine, "commit", lambda *a: note("commit"))
    return cli.main(argv)


# ---------------------------------------------------------------- the measurement


def measure(
    backend: str, commands: int, rate: float, postgres_url: str, workdir: Path, statements: bool
) -> Path:
    from bench.ack import PACED_THREADS, Load, Requests, advocate_server, post_all
    from bench.fakeslack import FakeSlackProcess

    folder = workdir / "timeline"
    folder.mkdir()
    url = Databases(workdir, postgres_url).fresh(backend, "timeline")
    env = {TIMELINE_ENV: str(folder), STATEMENTS_ENV: "1" if statements else ""}
    with FakeSlackProcess(0, workdir / "fake-slack.log") as fake:
        signed = Requests(fake)
        with advocate_server(
            fake, url, workdir, "advocate-timeline", module="bench.timeline", env=env
        ) as server:
            since = time.time()
            batch = signed.build("appreciate", commands)
            result = post_all(server.port, batch, Load(PACED_THREADS, rate))
            fake.wait_for_responses(set(result.sent_at), 120, since)
    return folder


def read(folder: Path) -> dict[str, list[tuple[float, str]]]:
    """Each command's events, in time order."""
    events: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            key, name, at = line.rsplit(" ", 2)
            if key.startswith("command:"):
                events[key].append((float(at), name))
    for timeline in events.values():
        timeline.sort()
    return events


def report(events: dict[str, list[tuple[float, str]]], statements: bool) -> str:
    steps: dict[str, list[float]] = defaultdict(list)
    inside: dict[str, list[float]] = defaultdict(list)
    for timeline in events.values():
        first = {}
        for at, name in timeline:
            first.setdefault(name, at)
        for label, start, end in STEPS:
            if start in first and end in first:
                steps[label].append((first[end] - first[start]) * 1000)
        if statements:
            _statements(timeline, inside)
    lines = [
        f"{len(events)} commands. Wall-clock ms per step, median and 90th percentile:",
        "",
        "| step | median | p90 |",
        "|---|---|---|",
    ]
    lines += [
        f"| {label} | {_median(steps[label])} | {_p90(steps[label])} |" for label, *_ in STEPS
    ]
    if statements:
        lines += ["", "Inside the recording (a statement, or the gap before it):", ""]
        lines += ["| what | median | p90 |", "|---|---|---|"]
        ranked = sorted(inside.items(), key=lambda item: -sum(item[1]))
        lines += [f"| {what} | {_median(ms)} | {_p90(ms)} |" for what, ms in ranked]
    return "\n".join(lines)


def _statements(timeline: list[tuple[float, str]], inside: dict[str, list[float]]) -> None:
    recording = False
    previous = 0.0
    for at, name in timeline:
        if name == "record0":
            recording, previous = True, at
            continue
        if not recording:
            continue
        if name.startswith("sql:"):
            inside[name.removeprefix("sql:")].append((at - previous) * 1000)
        elif name.startswith("sql0:"):
            inside["(Python before it)"].append((at - previous) * 1000)
        elif name == "record":
            inside["(the rest, the commit included)"].append((at - previous) * 1000)
            return
        previous = at


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "–"


def _p90(values: list[float]) -> str:
    return f"{sorted(values)[int(len(values) * 0.9)]:.2f}" if values else "–"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return serve(argv)
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--commands", type=int, default=80)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--statements", action="store_true")
    add_postgres_url(parser)
    args = parser.parse_args(argv)
    if args.backend == "postgres":
        check_postgres_url(args.postgres_url)
    workdir = Path(tempfile.mkdtemp(prefix="advocate-timeline-"))
    try:
        folder = measure(
            args.backend, args.commands, args.rate, args.postgres_url, workdir, args.statements
        )
        print(report(read(folder), args.statements))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
