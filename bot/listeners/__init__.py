"""Slack in and out only: parse the payload, ack, call a service, render, send."""

from __future__ import annotations

from typing import cast

from slack_bolt import App

from bot.listeners import actions, asks, commands, errors, events, settings, shortcuts, views
from bot.listeners.work import ListenerApp, Work
from bot.runtime import Runtime


def register(app: App, runtime: Runtime, work: Work, *, first_delivery: bool = True) -> None:
    """`first_delivery`: requests come from Slack, and a repeated event is skipped here (the
    worker process gets requests the server has already recorded; it must not skip them)."""
    errors.register(app, runtime)
    guarded = cast(App, ListenerApp(app, work))
    events.register(guarded, runtime, skip_repeated=first_delivery)
    commands.register(guarded, runtime)
    shortcuts.register(guarded, runtime)
    actions.register(guarded, runtime)
    views.register(guarded, runtime)
    asks.register(guarded, runtime)
    settings.register(guarded, runtime)
