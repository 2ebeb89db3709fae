"""One place where failures become words: user errors as is, the rest as an apology."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.errors import UserError
from bot.listeners.common import tell
from bot.runtime import Runtime

log = logging.getLogger(__name__)

_SLACK_ID = re.compile(r"[A-Z0-9]{2,30}")

# Said when a request is given up on. Part of it may have been saved before the failure
# (an appreciation recorded while Slack stopped answering), so it never says nothing was.
APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't finish that. "
    "Check your Home before trying again: it may already be saved."
)


# Failures of listeners run on this thread, collected while a worker runs a stored request
# (bot/pipeline.py), which retries it instead of apologising at once.
_collecting = threading.local()


@contextmanager
def failure_of() -> Iterator[list[Exception]]:
    """Collect, instead of answering, the failures (other than UserErrors, which are the
    person's to hear) of the listeners this thread runs meanwhile."""
    failed: list[Exception] = []
    _collecting.failed = failed
    try:
        yield failed
    finally:
        _collecting.failed = None


def _collected(error: Exception) -> bool:
    failed = getattr(_collecting, "failed", None)
    if failed is None or isinstance(error, UserError):
        return False
    failed.append(error)
    return True


def register(app: App, runtime: Runtime) -> None:
    @app.middleware
    def only_well_formed_ids(context: BoltContext, next: Callable[[], BoltResponse]) -> Any:
        """Slack's ids are short upper-case strings. A body holding anything else as its
        workspace, person or channel is not one this app can answer, and Bolt's client
        would send that value back to Slack with every call: acknowledge it and stop."""
        for name in ("team_id", "enterprise_id", "user_id", "channel_id"):
            value = context.get(name)
            if value is not None and _slack_id(value) is None:
                log.warning("ignored a request whose %s is not a Slack id", name)
                return BoltResponse(status=200, body="")
        return next()

    @app.error
    def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> BoltResponse:
        if not _collected(error):
            report(error, body, client)
        # The person has been told; Slack gets a plain acknowledgement, not a 500.
        return BoltResponse(status=200, body="")


def report(error: Exception, body: dict[str, Any], client: WebClient | None) -> None:
    """Tell the person: a UserError as is, anything else as an apology (and log it)."""
    if isinstance(error, UserError):
        text = error.message
    else:
        log.exception(
            "failed handling %s from %s",
            body.get("command") or body.get("type"),
            (body.get("user") or {}).get("id") or body.get("user_id"),
            exc_info=error,
        )
        text = APOLOGY
    if client is not None:
        reply_to_person(client, body, text)


def guarded(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a listener so that its failures are answered here, after the ack.

    Bolt answers Slack only once it sees the ack; an exception raised right after ack()
    can reach its runner first and turn the answer into an error. Catching here keeps the
    ack, and the person still hears what went wrong.
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> Any:
        try:
            return listener(**kwargs)
        except Exception as error:
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                ack()
            if _collected(error):
                return None
            body: dict[str, Any] = next(
                (kwargs[k] for k in ("body", "command", "shortcut") if kwargs.get(k)), {}
            )
            report(error, body, kwargs.get("client"))
            return None

    return run


def reply_to_person(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Answer whoever sent `body`, where they are; never raises."""
    user = _slack_id(body.get("user_id")) or _slack_id(_field(body.get("user"), "id"))
    if not user:
        return
    channel = _slack_id(body.get("channel_id")) or _slack_id(_field(body.get("channel"), "id"))
    response_url = body.get("response_url")
    if not isinstance(response_url, str):
        response_url = None
    try:
        tell(client, text, user_id=user, channel_id=channel, response_url=response_url)
    except Exception:
        log.exception("could not tell %s about a failure", user)


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def _slack_id(value: Any) -> str | None:
    """A user or channel id as Slack writes them (U0123ABC, C0123ABC), or None: a body
    that failed may be malformed, and what it holds is no address to post to."""
    return value if isinstance(value, str) and _SLACK_ID.fullmatch(value) else None
