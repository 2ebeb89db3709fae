"""Logging that never carries a Slack token, whatever logs it (the SDK logs responses at
DEBUG, and an install's response holds the new token), and that says which request a line
is about.

While a thread answers or works a request from Slack (bot/pipeline.py), every record logged
on it is stamped with that request's workspace (`team_id`), kind (`request_kind`) and a
short `request_id`, the same at the ack, in the work and in the Web API calls the work
makes. `LOG_FORMAT=json` prints them (`JsonFormatter`); the text format is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# Slack's tokens: bot, user, app, refresh and rotated ones, and a step run's (xwfp-).
TOKEN = re.compile(r"(?:xox(?:[abpre]|e\.xox[bp])|xwfp)-[A-Za-z0-9-]+")
_installed = False
# The request this thread is answering or working: (delivery key, team id, kind).
_request: ContextVar[tuple[str, str | None, str] | None] = ContextVar("request", default=None)


def redact(text: str) -> str:
    return TOKEN.sub("xox…(redacted)", text)


def _may_hold_a_token(text: str) -> bool:
    return "xox" in text or "xwfp" in text


def request_id(key: str) -> str:
    """A short id for the request Slack's delivery `key` names (bot/pipeline.py): the same
    wherever the request is logged, and no trigger id in the logs."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@contextmanager
def about_request(key: str, team_id: str | None, kind: str) -> Iterator[None]:
    """Stamp what this thread logs meanwhile with the request (see the module's docstring)."""
    token = _request.set((key, team_id, kind))
    try:
        yield
    finally:
        _request.reset(token)


def install_redaction() -> None:
    """Redact tokens in every log record from now on, at the moment it is created, and stamp
    it with the request it is logged for, if any."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        request = _request.get()
        if request is not None:
            key, team_id, kind = request
            record.request_id = request_id(key)
            record.team_id = team_id
            record.request_kind = kind
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return record
        if _may_hold_a_token(message):
            record.msg, record.args = redact(message), ()
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the process and thread,
    the request's workspace, kind and request_id when there is one, and a traceback as the
    `exception` field of the same line. Non-ASCII is escaped, so a line never breaks."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        for field, attribute in (
            ("workspace", "team_id"),
            ("kind", "request_kind"),
            ("request_id", "request_id"),
        ):
            value = getattr(record, attribute, None)
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, default=str)
        # The message was redacted when the record was made; a traceback was not.
        return redact(line) if _may_hold_a_token(line) else line


def log_json_lines() -> logging.Handler:
    """The handler for LOG_FORMAT=json, on stderr; Python's warnings and uncaught exceptions
    (which would print lines of their own) are logged through it too."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.captureWarnings(True)
    uncaught = logging.getLogger("bot.uncaught")

    def log_uncaught(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        uncaught.error("uncaught %s", kind.__name__, exc_info=(kind, error, trace))

    def log_uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
        if hook.exc_type is SystemExit or hook.exc_value is None:
            return
        uncaught.error(
            "uncaught %s in thread %s",
            hook.exc_type.__name__,
            hook.thread.name if hook.thread else "?",
            exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback),
        )

    sys.excepthook = log_uncaught
    threading.excepthook = log_uncaught_in_thread
    return handler
