"""How listeners run in each of the two Bolt apps of the request pipeline (bot/pipeline.py).

The *answering* app runs on the request's thread, before anything is stored. Commands,
shortcuts, actions and events never reach its listeners (they are stored and acknowledged
at once); a view submission runs its listener there only until the listener acknowledges
it, so that field errors go back with the answer, and stops at the ack.

The *working* app runs on a worker, with a request the pipeline stored: every listener runs
to its end, and its ack, whose answer went to Slack long ago, is a no-op. A failure is
collected for the worker to retry (bot/listeners/errors.py), not apologised for at once.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, Literal

from slack_bolt import App

from bot.listeners.errors import guarded

Role = Literal["answer", "work"]

# Requests one worker process runs at once; a couple more take only those that open a
# modal (see bot/pipeline.py).
WORKERS = 16


class Answered(BaseException):
    """Raised by a view listener's ack in the answering app: the rest runs on a worker.
    Not an Exception, so that no handler of the listener's own catches it."""


class ListenerApp:
    """The Bolt app as listeners see it: each listener registered through it is guarded,
    and runs as its app's role wants (see the module's docstring)."""

    _STORED = ("command", "action", "shortcut", "event", "view")

    def __init__(self, app: App, role: Role) -> None:
        self._app = app
        self._role = role

    def __getattr__(self, name: str) -> Any:
        register = getattr(self._app, name)
        if name == "view" and self._role == "answer":
            wrap = until_ack
        elif name in self._STORED or name == "options":
            wrap = guarded
        else:
            return register

        def listener_for(*args: Any, **kwargs: Any) -> Callable[..., Any]:
            decorate = register(*args, **kwargs)
            return lambda listener: decorate(wrap(listener))

        return listener_for


def until_ack(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Run the listener until it acknowledges; Bolt answers Slack with that ack."""
    run = guarded(listener)

    @functools.wraps(listener)
    def run_until_ack(**kwargs: Any) -> None:
        ack = kwargs["ack"]

        def ack_and_stop(*args: Any, **options: Any) -> None:
            ack(*args, **options)
            raise Answered

        with contextlib.suppress(Answered):
            run(**{**kwargs, "ack": ack_and_stop})

    return run_until_ack
