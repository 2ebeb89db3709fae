"""Buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.listeners.modals import open_appreciation_modal
from bot.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    @app.action(blocks.OPEN_MODAL_ACTION)
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_appreciation_modal(client, runtime, trigger_id=body["trigger_id"])
