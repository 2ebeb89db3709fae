"""Logging that never carries a Slack token, whatever logs it (the SDK logs responses at
DEBUG, and an install's response holds the new token)."""

from __future__ import annotations

import logging
import re
from typing import Any

TOKEN = re.compile(r"xox(?:[abpre]|e\.xox[bp])-[A-Za-z0-9-]+")
_installed = False


def redact(text: str) -> str:
    return TOKEN.sub("xox…(redacted)", text)


def install_redaction() -> None:
    """Redact tokens in every log record from now on, at the moment it is created."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem, not ours
            return record
        if "xox" in message:
            record.msg, record.args = redact(message), ()
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True
