"""The HTTP surface: Slack's one Request URL, the OAuth pages, sign-in and the insights
pages, and a health check."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.pipeline import Pipeline
from bot.store.db import Database

if TYPE_CHECKING:
    from bot.signin import SignIn

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
INSIGHTS_PATHS = ("/insights", "/insights.csv")
# Slack's payloads are far below this; a bigger body is refused (413) from its headers,
# before it is read. Slack signs a request within minutes of sending it.
MAX_BODY_BYTES = 1024 * 1024
MAX_SIGNATURE_AGE_SECONDS = 5 * 60
# How waitress serves the app, here and in the tests.
SERVER_OPTIONS: dict[str, Any] = {"max_request_body_size": MAX_BODY_BYTES}

StartResponse = Callable[..., Any]


class WebApp:
    """A WSGI application: `/slack/events` goes through the pipeline (bot/pipeline.py), the
    OAuth pages to Bolt, and `/healthz` checks the database.

    The signature of every POST is checked here, before anything parses the body: a request
    that is not from Slack gets 401 whatever it contains, and a signed body that cannot be
    parsed gets 400, never a 500 or a traceback.
    """

    def __init__(
        self,
        pipeline: Pipeline | None,
        db: Database,
        signing_secret: str | None = None,
        signin: SignIn | None = None,
    ) -> None:
        """Without a `pipeline` (Socket Mode), only the health check, sign-in and the
        insights pages are served."""
        self.pipeline = pipeline
        # The OAuth pages (install, redirect) are Bolt's own.
        self.slack = SlackRequestHandler(pipeline.answers) if pipeline is not None else None
        self.db = db
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.signin = signin

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == HEALTH_PATH:
            return self.health(start_response)
        if self.signin is not None and (path in INSIGHTS_PATHS or path in _SIGNIN_PATHS):
            # People's browsers, not Slack: no Slack signature to check.
            return self.pages(environ, start_response)
        if self.pipeline is None or self.slack is None:
            return _answer(start_response, "404 Not Found", {"error": "not found"})
        posted = environ.get("REQUEST_METHOD") == "POST"
        if posted and self.verifier is not None and not self._signed(environ):
            return _answer(start_response, "401 Unauthorized", {"error": "invalid request"})
        try:
            if posted and path == EVENTS_PATH:
                return self.events(environ, start_response)
            return self.slack(environ, start_response)
        except Exception as error:
            log.warning(
                "unreadable request to %s: %s", environ.get("PATH_INFO"), type(error).__name__
            )
            return _answer(start_response, "400 Bad Request", {"error": "bad request"})

    def pages(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Sign-in (bot/signin.py) and the insights pages (bot/insights_page.py), each with
        the security headers; any failure a plain page that shows nothing."""
        from bot import insights_page
        from bot.signin import SIGNIN_PATH, SIGNOUT_PATH, page

        assert self.signin is not None
        path = environ.get("PATH_INFO") or ""
        method = environ.get("REQUEST_METHOD")
        try:
            if path == SIGNOUT_PATH and method in ("GET", "POST"):
                status, headers, body = self.signin.sign_out(environ)
            elif method != "GET":
                status, headers, body = page("405 Method Not Allowed", "Not allowed", "")
            elif path == SIGNIN_PATH:
                status, headers, body = self.signin.begin(environ)
            elif path in INSIGHTS_PATHS:
                viewer = self.signin.viewer(environ)
                if viewer is None:
                    status, headers, body = self.signin.not_signed_in(environ)
                else:
                    status, headers, body = insights_page.respond(
                        self.db,
                        viewer,
                        path,
                        environ.get("QUERY_STRING", ""),
                        self.signin.runtime.clock(),
                    )
            else:
                status, headers, body = self.signin.finish(environ)
        except Exception as error:
            log.warning("the page %s failed: %s", path, type(error).__name__)
            log.debug("the page %s failed", path, exc_info=True)
            status, headers, body = page(
                "500 Internal Server Error", "Something went wrong", "<p>Please try again.</p>"
            )
        return _respond(start_response, status, headers, body)

    def events(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """The Request URL: through the pipeline (verify, persist, acknowledge)."""
        assert self.pipeline is not None
        body = _read_body(environ).decode("utf-8")
        headers: dict[str, str | Sequence[str]] = {
            key[5:].replace("_", "-").lower(): [value]
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = [environ[key]]
        request = BoltRequest(body=body, query=environ.get("QUERY_STRING", ""), headers=headers)
        response = self.pipeline.receive(request)
        payload = response.body.encode("utf-8")
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        answer_headers = [(k, v) for k, values in response.headers.items() for v in values]
        if not any(k.lower() == "content-type" for k, _ in answer_headers):
            answer_headers.append(("Content-Type", "text/plain;charset=utf-8"))
        answer_headers = [(k, v) for k, v in answer_headers if k.lower() != "content-length"]
        answer_headers.append(("Content-Length", str(len(payload))))
        start_response(status, answer_headers)
        return [payload]

    def _signed(self, environ: dict[str, Any]) -> bool:
        """Whether Slack signed the request: its headers first, the body only if they can
        be Slack's (present, and a timestamp of the last few minutes)."""
        assert self.verifier is not None
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if not timestamp or not signature or not str(signature).startswith("v0="):
            return False
        try:
            if abs(time.time() - int(timestamp)) > MAX_SIGNATURE_AGE_SECONDS:
                return False
        except ValueError:
            return False
        body = _read_body(environ)
        try:
            return self.verifier.is_valid(body, timestamp, signature)
        except (ValueError, UnicodeDecodeError):
            return False

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        """200 when the database answers, 503 when it does not."""
        try:
            self.db.ping()
            status, body = "200 OK", {"status": "ok", "database": "ok"}
        except Exception as error:  # any failure to answer means unhealthy
            log.warning("health check: database did not answer: %s", error)
            status, body = "503 Service Unavailable", {"status": "error", "database": "down"}
        return _answer(start_response, status, body)


_SIGNIN_PATHS = ("/slack/signin", "/slack/signin_redirect", "/slack/signout")


def _respond(
    start_response: StartResponse, status: str, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    """A page's answer, with the security headers whatever the page set."""
    from bot.signin import SECURITY_HEADERS

    ours = {name.lower() for name, _ in SECURITY_HEADERS}
    kept = [(k, v) for k, v in headers if k.lower() not in ours and k.lower() != "content-length"]
    start_response(status, [*kept, *SECURITY_HEADERS, ("Content-Length", str(len(body)))])
    return [body]


def _answer(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back, so that Bolt can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def serving_pages(wsgi_app: WebApp, port: int, host: str = "0.0.0.0") -> Any:
    """Serve `wsgi_app` on a thread of its own (Socket Mode's pages); returns the server,
    whose `close()` stops it."""
    import threading

    from waitress.server import create_server

    server = create_server(
        wsgi_app, host=host, port=port, threads=4, ident="advocate", **SERVER_OPTIONS
    )
    threading.Thread(target=server.run, name="pages", daemon=True).start()
    return server


def serve(wsgi_app: WebApp, port: int, host: str = "0.0.0.0") -> None:
    """Serve with waitress until interrupted."""
    from waitress import serve as waitress_serve

    waitress_serve(wsgi_app, host=host, port=port, threads=8, ident="advocate", **SERVER_OPTIONS)
