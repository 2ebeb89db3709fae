"""The workers' process: `advocate worker`, and the one `advocate run --http` starts beside
its server.

Threads of one process share one interpreter lock, and a worker busy with a request (the
database, rendering, the Web API calls) holds it for milliseconds at a time, which the
thread answering the next request would wait for at each step. So over HTTP the server
answers in its own process and the workers run in another, niced, that it starts and
watches: on Linux forked at start, before the server has a thread or a database
connection, so that both share the code's pages; if it dies, another is spawned. Nothing
is handed from one to the other but rows of the database (bot/pipeline.py), so a worker
that dies loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from bot import heap
from bot.config import Settings

log = logging.getLogger(__name__)

# The workers' scheduling priority relative to the server's: higher is lower priority.
NICENESS = 10
# How often the server checks on its worker process, and the worker on its server.
CHECK_SECONDS = 1.0


def run_workers(
    settings: Settings,
    *,
    parent: int | None = None,
    metrics_port: int | None = None,
    doorbell: str | None = None,
) -> None:
    """Work stored requests until SIGTERM or SIGINT (or until `parent` is gone); the
    requests in hand are finished first. With `metrics_port`, serve /metrics there (the
    worker process of `advocate run` does not: its server shows what it counts). With
    `doorbell`, the server rings there when it stored a request (bot/doorbell.py)."""
    from bot import metrics
    from bot.app import build_workers
    from bot.jobs.tick import register_token_workspace
    from bot.pipeline import WORKERS
    from bot.runtime import Runtime
    from bot.store.db import Database

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # A connection kept for each thread, and a few for the lookout and the sender.
    runtime = Runtime.create(settings, db=Database(settings.database_url, pool_size=WORKERS + 4))
    register_token_workspace(runtime)
    with metrics.serving(metrics_port, runtime):
        workers = build_workers(runtime, doorbell=doorbell)
        heap.settled()
        workers.start()
        log.info("workers running (process %s)", os.getpid())
        try:
            while not stop.wait(CHECK_SECONDS):
                if parent is not None and os.getppid() != parent:
                    log.warning("the server is gone; finishing what is in hand")
                    break
        finally:
            workers.stop()
            runtime.db.dispose()


def _child(settings: Settings, parent: int, doorbell: str) -> None:
    with contextlib.suppress(OSError):  # a platform without priorities runs it as it is
        os.nice(NICENESS)
    from bot.cli import configure_logging

    configure_logging(settings)
    try:
        run_workers(settings, parent=parent, doorbell=doorbell)
    except Exception:
        # Through the configured log format, not multiprocessing's bare traceback.
        log.exception("the worker process stopped")
        sys.exit(1)


class WorkerProcess:
    """The worker process `advocate run` keeps beside its server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stopping = threading.Event()
        # Where the server rings when it stored a request: a folder of this run's own.
        self._folder = tempfile.mkdtemp(prefix="advocate-")
        self.doorbell = os.path.join(self._folder, "doorbell")
        self._process = self._start(_first_context())
        self._watch = threading.Thread(target=self._keep_running, name="watch", daemon=True)

    def watch(self) -> None:
        """Start replacing the worker process when it dies (call once threads are fine)."""
        self._watch.start()

    def _start(self, context: BaseContext) -> BaseProcess:
        process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_child,
            args=(self._settings, os.getpid(), self.doorbell),
            name="advocate-worker",
        )
        process.start()
        log.info("worker process %s started", process.pid)
        return process

    def _keep_running(self) -> None:
        while not self._stopping.wait(CHECK_SECONDS):
            if not self._process.is_alive() and not self._stopping.is_set():
                log.error(
                    "the worker process exited (code %s); starting another",
                    self._process.exitcode,
                )
                # Spawned: forking a process that runs threads is not safe.
                self._process = self._start(multiprocessing.get_context("spawn"))

    def stop(self) -> None:
        """Let the worker finish the requests in hand, and wait for it."""
        self._stopping.set()
        if self._process.is_alive() and self._process.pid is not None:
            os.kill(self._process.pid, signal.SIGTERM)
        self._process.join()
        shutil.rmtree(self._folder, ignore_errors=True)


def _first_context() -> BaseContext:
    """Fork on Linux, once the code is loaded and before any thread starts; else spawn."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return multiprocessing.get_context("spawn")
    import bot.app  # noqa: F401  (loaded once, shared by both processes)

    heap.settled()
    return multiprocessing.get_context("fork")
