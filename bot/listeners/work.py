"""Where listeners run: Slack gets its answer at once, the work after it waits its turn.

Slack wants an answer within 3 seconds, and a person waits for it; the work behind an
answer (the database, the Web API calls) can take longer and may wait. So a command,
shortcut, action or event is acknowledged on the request's own thread, and its listener
then runs on a small pool of workers. Under a burst the backlog waits in that pool's
queue, not for the interpreter lock that the thread sending the next answer needs.
`advocate run --http` goes one step further and runs that pool in a worker process
(bot/listeners/worker.py); Socket Mode and the tests run it in this one.

A view submission is different: its answer may carry field errors that the listener
works out first. It runs on a thread of its own until it acks; the request waits for
that ack only, and the listener goes on with its work after it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from slack_bolt import App, BoltRequest, BoltResponse

from bot.listeners.errors import guarded

log = logging.getLogger(__name__)

# Listeners doing their work after the ack, at most this many at once.
WORKERS = 16
# Acknowledged work waiting or running, at most this many: a burst is absorbed at once;
# beyond it, new requests wait for room (up to BACKLOG_WAIT_SECONDS) before their answer,
# so a sustained overload slows the answers down instead of growing the queue without end.
BACKLOG = 200
BACKLOG_WAIT_SECONDS = 2.0
# View submissions deciding their answer, at most this many at once.
VIEW_THREADS = 8
# How long a view submission may take to decide its answer before Slack is answered anyway.
ACK_WAIT_SECONDS = 2.5


class Room(Protocol):
    """The backlog's places: a semaphore of this process's or shared with the worker's."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class Work:
    """The two pools behind the listeners, and their orderly end."""

    def __init__(
        self, workers: int = WORKERS, view_threads: int = VIEW_THREADS, backlog: int = BACKLOG
    ) -> None:
        self._after_ack = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="work")
        self._until_ack = ThreadPoolExecutor(max_workers=view_threads, thread_name_prefix="view")
        self._room: Room = threading.BoundedSemaphore(backlog)

    def ack_first(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Ack on the request thread, then queue the listener (its own ack() is then a no-op)."""
        run = guarded(listener)
        wants = set(_parameters(listener))

        def answer_then_queue(**kwargs: Any) -> BoltResponse | None:
            has_room = self._wait_for_room(listener.__name__)
            ack = kwargs.get("ack")
            response = ack() if ack is not None else None
            own = {name: value for name, value in kwargs.items() if name in wants}
            self._queue(run, own, kwargs.get("request"), has_room)
            return response

        return _taking(answer_then_queue, listener, "ack", "request")

    def _wait_for_room(self, name: str) -> bool:
        has_room = self._room.acquire(timeout=BACKLOG_WAIT_SECONDS)
        if not has_room:
            log.warning("the work queue is full; queueing %s anyway", name)
        return has_room

    def _queue(
        self,
        run: Callable[..., Any],
        kwargs: dict[str, Any],
        request: BoltRequest | None,
        has_room: bool,
    ) -> None:
        if has_room:
            self._after_ack.submit(self._then_make_room, run, kwargs)
        else:
            self._after_ack.submit(run, **kwargs)

    def _then_make_room(self, run: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        try:
            run(**kwargs)
        finally:
            self._room.release()

    def until_ack(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Run the listener on a thread of its own; answer Slack as soon as it acks."""
        run = guarded(listener)

        @functools.wraps(listener)
        def run_until_ack(**kwargs: Any) -> BoltResponse | None:
            ack = kwargs["ack"]
            acked = threading.Event()

            def signalling_ack(*args: Any, **options: Any) -> BoltResponse:
                try:
                    return ack(*args, **options)  # type: ignore[no-any-return]
                finally:
                    acked.set()

            future = self._until_ack.submit(run, **{**kwargs, "ack": signalling_ack})
            future.add_done_callback(lambda _: acked.set())
            if not acked.wait(ACK_WAIT_SECONDS):
                log.warning("%s did not ack in time; answering Slack anyway", listener.__name__)
            return ack.response  # type: ignore[no-any-return]

        return run_until_ack

    def drain(self) -> None:
        """Stop taking work and finish what was acknowledged: nothing answered is dropped."""
        self._until_ack.shutdown(wait=True)
        self._after_ack.shutdown(wait=True)


class Inline(Work):
    """Listeners run on the thread that dispatched the request: in the worker process
    (bot/listeners/worker.py), whose threads are the pool."""

    def _wait_for_room(self, name: str) -> bool:
        return False

    def _queue(
        self,
        run: Callable[..., Any],
        kwargs: dict[str, Any],
        request: BoltRequest | None,
        has_room: bool,
    ) -> None:
        run(**kwargs)


class ListenerApp:
    """The Bolt app as listeners see it: each listener registered through it is guarded,
    and runs where its kind of request should (see the module's docstring)."""

    _ACK_FIRST = ("command", "action", "shortcut", "event")

    def __init__(self, app: App, work: Work) -> None:
        self._app = app
        self._work = work

    def __getattr__(self, name: str) -> Any:
        register = getattr(self._app, name)
        if name in self._ACK_FIRST:
            wrap = self._work.ack_first
        elif name == "view":
            wrap = self._work.until_ack
        elif name == "options":
            wrap = guarded
        else:
            return register

        def listener_for(*args: Any, **kwargs: Any) -> Callable[..., Any]:
            decorate = register(*args, **kwargs)
            return lambda listener: decorate(wrap(listener))

        return listener_for


def _parameters(listener: Callable[..., Any]) -> list[str]:
    """The names Bolt passes a listener: those its signature asks for."""
    return list(inspect.signature(inspect.unwrap(listener)).parameters)


def _taking(wrapper: Callable[..., Any], listener: Callable[..., Any], *extra: str) -> Any:
    """`wrapper` as Bolt sees it: the listener's name and arguments, and `extra` ones."""
    functools.update_wrapper(wrapper, listener)
    del wrapper.__wrapped__  # type: ignore[attr-defined]
    names = _parameters(listener)
    names += [name for name in extra if name not in names]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, kind) for name in names]
    )
    return wrapper
