"""Slack in and out only: parse the payload, ack, call a service, render, send."""

from __future__ import annotations

from typing import cast

from slack_bolt import App

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
    views,
)
from bot.listeners.work import ListenerApp, Role
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


def register(app: App, runtime: Runtime, role: Role) -> None:
    """Every listener, each run as `role` wants (see bot/listeners/work.py)."""
    errors.register(app, runtime)
    guarded = cast(App, ListenerApp(app, role))
    events.register(guarded, runtime)
    commands.register(guarded, runtime)
    shortcuts.register(guarded, runtime)
    actions.register(guarded, runtime)
    views.register(guarded, runtime)
    asks.register(guarded, runtime)
    listening.register(guarded, runtime)
    reactions.register(guarded, runtime)
    settings.register(guarded, runtime)
