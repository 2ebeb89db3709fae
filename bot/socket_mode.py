"""Socket Mode: Slack's envelopes come over a WebSocket instead of HTTP, and take the same
pipeline (bot/pipeline.py): stored, then acknowledged over the socket. An envelope whose
request could not be stored is not acknowledged, so Slack sends it again.

slack-sdk's client reconnects by itself when Slack sends `disconnect` (before it rotates a
connection) or the connection drops.
"""

from __future__ import annotations

from time import time

from slack_bolt import BoltRequest
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.pipeline import Pipeline


class PipelineSocketHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, with each envelope answered by the pipeline."""

    def __init__(self, pipeline: Pipeline, app_token: str) -> None:
        super().__init__(pipeline.answers, app_token)
        self.pipeline = pipeline

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time()
        request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        send_response(client, req, self.pipeline.receive(request), start)
