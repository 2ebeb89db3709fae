"""The work after the ack, in a process of its own.

Threads in one process share one interpreter lock, and a thread busy with the work behind
an earlier answer (the database, rendering, the Web API calls) holds it for up to 5 ms at a
time, however many times the thread answering the next request asks for it. Under a burst
that wait, repeated at each step of serving a request, is what Slack sees. Processes are
scheduled by the operating system instead, which runs the one with a request to answer as
soon as it wakes, the more so as the worker runs at a lower priority.

So `advocate run --http` answers in its own process and hands each acknowledged request,
exactly as Slack sent it, to a worker process that runs the same listeners on its threads.
The backlog stays bounded across the two: a request waits for room before its answer.

On Linux the worker is forked at start, before the server has a thread or a database
connection, once the code both run is loaded: the two share those pages, so the pair takes
little more memory than one process. If the worker dies, the next request starts another,
spawned from a clean interpreter, as everywhere else (forking a process that runs threads
is not safe). Stopping drains it: the worker ignores SIGINT and SIGTERM, finishes what was
acknowledged, and exits when the server tells it to.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from slack_bolt import BoltRequest

from bot.config import Settings
from bot.listeners.work import BACKLOG, WORKERS, Work

log = logging.getLogger(__name__)

# The worker's scheduling priority relative to the server's: higher is lower priority.
NICENESS = 10
# How often an idle worker checks that the server that started it is still there.
PARENT_CHECK_SECONDS = 1.0

# What the server hands the worker: the request's body and headers, and whether it holds
# a place in the backlog. None tells the worker to finish and stop.
Item = tuple[str, dict[str, Any], bool] | None


class WorkProcess(Work):
    """Work that answers here and runs its command, shortcut, action and event listeners in
    a worker process (view submissions still decide their answer here: see work.py)."""

    def __init__(self, settings: Settings, threads: int = WORKERS, backlog: int = BACKLOG) -> None:
        super().__init__(workers=1, backlog=backlog)
        self._settings = settings
        self._threads = threads
        self._backlog = backlog
        self._lock = threading.Lock()
        self._stopping = False
        self._start(_first_context())

    def _start(self, context: BaseContext) -> None:
        receiving, self._sending = context.Pipe(duplex=False)
        # The backlog's places, counted across the two processes.
        self._room = context.BoundedSemaphore(self._backlog)
        self._process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=serve,
            args=(self._settings, receiving, self._room, self._threads, os.getpid()),
            name="advocate-worker",
        )
        self._process.start()
        receiving.close()
        log.info("worker process %s started", self._process.pid)

    def _wait_for_room(self, name: str) -> bool:
        self._ensure_running()
        return super()._wait_for_room(name)

    def _queue(
        self,
        run: Callable[..., Any],
        kwargs: dict[str, Any],
        request: BoltRequest | None,
        has_room: bool,
    ) -> None:
        if request is None:  # not from an HTTP request: nothing to hand over
            super()._queue(run, kwargs, request, has_room=False)
            return
        self._send((request.raw_body, dict(request.headers), has_room))

    def _send(self, item: Item) -> None:
        # Written here, on the request's thread: no feeder thread to wait for.
        with self._lock:
            try:
                self._sending.send(item)
            except OSError:
                log.error("the worker process is gone; a request it was handed is lost")

    def _ensure_running(self) -> None:
        if self._stopping or self._process.is_alive():
            return
        with self._lock:
            if self._process.is_alive():
                return
            log.error(
                "the worker process exited (code %s); starting another. What it had not "
                "finished is lost.",
                self._process.exitcode,
            )
            self._sending.close()
            self._start(multiprocessing.get_context("spawn"))

    def drain(self) -> None:
        """Finish what was acknowledged, here and in the worker, then stop the worker."""
        self._stopping = True
        super().drain()
        if self._process.is_alive():
            self._send(None)
            self._process.join()
        self._sending.close()


def _first_context() -> BaseContext:
    """Fork on Linux, once the code is loaded and before any thread starts; else spawn."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return multiprocessing.get_context("spawn")
    import bot.app  # noqa: F401  (loaded once, shared by both processes)

    # Objects that exist now are never collected: the collector leaves their pages alone,
    # and the worker's copies of them stay shared.
    gc.freeze()
    return multiprocessing.get_context("fork")


def serve(settings: Settings, items: Connection, room: Any, threads: int, parent: int) -> None:
    """The worker process: run the listeners of each request handed over, on `threads`
    threads, until told to stop or until the server is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # a platform without priorities runs it as it is
        os.nice(NICENESS)
    from bot.app import build_app
    from bot.cli import configure_logging
    from bot.listeners.work import Inline
    from bot.runtime import Runtime
    from bot.store.db import Database

    configure_logging(settings)
    # A connection kept for each thread: with the pool's default of 5, the others' would be
    # opened and closed again for each transaction under load.
    db = Database(settings.database_url, pool_size=threads)
    runtime = Runtime.create(settings, db=db)
    # The server verified each request's signature; one handed over may be older than
    # the five minutes a signature is good for.
    app = build_app(runtime, work=Inline(), verify_requests=False)
    waiting: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def work() -> None:
        while (item := waiting.get()) is not None:
            body, headers, has_room = item
            try:
                app.dispatch(BoltRequest(body=body, headers=headers))
            except Exception:  # a listener's failure is reported by `guarded`; this is Bolt's
                log.exception("the worker could not run a request")
            finally:
                if has_room:
                    # A place taken from a replaced worker's count may come back here: never
                    # more places than the backlog, and never an error for it.
                    with contextlib.suppress(ValueError):
                        room.release()

    workers = [threading.Thread(target=work, name=f"work-{n}") for n in range(threads)]
    for thread in workers:
        thread.start()
    for item in _received(items, parent):
        waiting.put(item)
    for _ in workers:
        waiting.put(None)
    for thread in workers:
        thread.join()
    runtime.db.dispose()


def _received(items: Connection, parent: int) -> Iterator[Item]:
    """What the server hands over, until it says stop, closes its end or is gone."""
    while True:
        try:
            if not items.poll(PARENT_CHECK_SECONDS):
                if os.getppid() != parent:
                    return
                continue
            item = items.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        yield item
