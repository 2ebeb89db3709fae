"""Slack in and out only: parse the payload, ack, call a service, render, send."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, asks, commands, errors, events, shortcuts, views
from bot.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    errors.register(app, runtime)
    events.register(app, runtime)
    commands.register(app, runtime)
    shortcuts.register(app, runtime)
    actions.register(app, runtime)
    views.register(app, runtime)
    asks.register(app, runtime)
