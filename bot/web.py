"""The HTTP surface: Slack's one Request URL, the OAuth pages, and a health check."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.store.db import Database

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

StartResponse = Callable[..., Any]


class WebApp:
    """A WSGI application: `/slack/events` (and OAuth) go to Bolt, `/healthz` checks the DB."""

    def __init__(self, app: App, db: Database) -> None:
        self.slack = SlackRequestHandler(app, path=EVENTS_PATH)
        self.db = db

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            return self.health(start_response)
        return self.slack(environ, start_response)

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            self.db.ping()
            status, body = "200 OK", {"status": "ok", "database": "ok"}
        except Exception as error:  # any failure to answer means unhealthy
            log.warning("health check: database did not answer: %s", error)
            status, body = "503 Service Unavailable", {"status": "error", "database": "down"}
        payload = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]


def serve(wsgi_app: WebApp, port: int, host: str = "0.0.0.0") -> None:
    """Serve with waitress until interrupted."""
    from waitress import serve as waitress_serve

    waitress_serve(wsgi_app, host=host, port=port, threads=8, ident="advocate")
