"""Slack in and out only: parse the payload, ack, call a service, render, send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from slack_bolt import App, BoltContext, BoltResponse

from bot.blocks import appreciation as appreciation_blocks
from bot.blocks import asks as ask_blocks
from bot.blocks import listening as listening_blocks
from bot.blocks import recap as recap_blocks
from bot.blocks.home import NEW_ASK_ACTION, SCHEDULE_ACTION, SETTINGS_ACTION
from bot.listeners import (
    actions,
    asks,
    commands,
    errors,
    events,
    listening,
    reactions,
    settings,
    shortcuts,
    steps,
    views,
)
from bot.listeners.errors import guarded
from bot.listeners.forms import Form, apply_on, check_on
from bot.replies import OnceRespond
from bot.runtime import Runtime

# Buttons whose listener opens a modal: their trigger_id lives 3 seconds, so the pipeline
# works them first (bot/pipeline.py). Commands without text and shortcuts open one too.
MODAL_ACTIONS = frozenset(
    {
        appreciation_blocks.OPEN_MODAL_ACTION,
        appreciation_blocks.APPRECIATE_PERSON,
        NEW_ASK_ACTION,
        SETTINGS_ACTION,
        SCHEDULE_ACTION,
        ask_blocks.RAISE_OBSTACLE,
        ask_blocks.COMMIT,
        ask_blocks.DECLINE,
        ask_blocks.APPRECIATE,
        listening_blocks.LISTEN_OPEN,
        listening_blocks.ANSWER,
        recap_blocks.THANK_THEM,
    }
)


class _Guarded:
    """The Bolt app as listeners see it: every listener registered through it is guarded
    (bot/listeners/errors.py)."""

    def __init__(self, app: App) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        register = getattr(self._app, name)
        if name not in ("command", "action", "shortcut", "event"):
            return register

        def listener_for(*args: Any, **kwargs: Any) -> Callable[..., Any]:
            decorate = register(*args, **kwargs)
            return lambda listener: decorate(guarded(listener))

        return listener_for


def forms(runtime: Runtime) -> list[Form]:
    """Every form (modal submission) of the app."""
    return [
        *views.forms(runtime),
        *asks.forms(runtime),
        *listening.forms(runtime),
        *settings.forms(runtime),
    ]


def register_answers(app: App, runtime: Runtime) -> None:
    """The app that answers on the request's thread: nothing reaches its listeners but
    view submissions (bot/pipeline.py), each checked by its form before the modal closes."""
    errors.register(app, runtime)
    check_on(app, forms(runtime))


def register(app: App, runtime: Runtime) -> None:
    """The app that works stored requests: every listener, and every form's apply."""
    errors.register(app, runtime)

    @app.middleware
    def respond_once(context: BoltContext, next: Callable[[], BoltResponse]) -> Any:
        """`respond()` replies once, however often the request runs (bot/replies.py)."""
        respond = context.respond if context.response_url else None
        if respond is not None:
            context["respond"] = OnceRespond(respond)
        return next()

    guarded_app = cast(App, _Guarded(app))
    events.register(guarded_app, runtime)
    commands.register(guarded_app, runtime)
    shortcuts.register(guarded_app, runtime)
    actions.register(guarded_app, runtime)
    asks.register(guarded_app, runtime)
    listening.register(guarded_app, runtime)
    reactions.register(guarded_app, runtime)
    settings.register(guarded_app, runtime)
    steps.register(guarded_app, runtime)
    apply_on(app, forms(runtime))
