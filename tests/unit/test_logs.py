"""Log lines: JSON on one line each (tracebacks included) with the request they are about,
tokens redacted in every format, and the text format as it always was."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import JsonFormatter, about_request, install_redaction, request_id

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing JSON to one buffer and the text format to another."""
    install_redaction()
    json_out, text_out = io.StringIO(), io.StringIO()
    as_json, as_text = logging.StreamHandler(json_out), logging.StreamHandler(text_out)
    as_json.setFormatter(JsonFormatter())
    as_text.setFormatter(logging.Formatter(TEXT_FORMAT))
    logger = logging.getLogger("bot.test_logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers = [as_json, as_text]
    yield logger, json_out, text_out
    logger.handlers = []


def parsed(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_and_message(lines: tuple) -> None:
    logger, json_out, _ = lines
    logger.info("stored %s", "event:Ev1")
    (entry,) = parsed(json_out)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bot.test_logs"
    assert entry["message"] == "stored event:Ev1"
    assert str(entry["time"]).endswith("+00:00")
    assert not {"request_id", "workspace", "kind"} & entry.keys()


def test_lines_logged_about_a_request_carry_its_workspace_kind_and_id(lines: tuple) -> None:
    logger, json_out, text_out = lines
    with about_request("command:123.456", "T111", "command"):
        logger.info("working")
        with about_request("event:Ev9", "T222", "event"):
            logger.info("nested")
        logger.info("back")
    logger.info("after")
    working, nested, back, after = parsed(json_out)
    expected = {"workspace": "T111", "kind": "command", "request_id": request_id("command:123.456")}
    assert {k: working[k] for k in expected} == expected
    assert (nested["workspace"], nested["kind"]) == ("T222", "event")
    assert back["request_id"] == working["request_id"] != nested["request_id"]
    assert "request_id" not in after
    # The text format is as it always was.
    assert text_out.getvalue().splitlines()[0] == "INFO bot.test_logs: working"


def test_a_request_id_is_short_stable_and_hides_the_trigger() -> None:
    key = "command:8123.4567.abcdef0123456789"
    assert request_id(key) == request_id(key)
    assert len(request_id(key)) == 16
    assert "8123" not in request_id(key)


def test_a_traceback_is_a_field_of_the_same_line_and_is_redacted(lines: tuple) -> None:
    logger, json_out, _ = lines
    try:
        raise ValueError("answer held xoxb-1234-secret\nand a second line")
    except ValueError:
        logger.exception("could not tell the person")
    output = json_out.getvalue()
    assert output.count("\n") == 1
    (entry,) = parsed(json_out)
    assert entry["message"] == "could not tell the person"
    trace = str(entry["exception"])
    assert trace.startswith("Traceback") and "ValueError: answer held" in trace
    assert "xoxb-1234-secret" not in output and "xox…(redacted)" in trace


def test_a_token_in_a_message_is_redacted_in_both_formats(lines: tuple) -> None:
    logger, json_out, text_out = lines
    logger.debug("Received the following response - body: %s", {"token": "xoxb-99-abc"})
    assert "xoxb-99-abc" not in json_out.getvalue() + text_out.getvalue()
    (entry,) = parsed(json_out)
    assert "xox…(redacted)" in str(entry["message"])


def test_text_people_type_is_escaped_not_split_across_lines(lines: tuple) -> None:
    logger, json_out, _ = lines
    logger.warning("reason: %s", 'two\nlines\u2028and a separator "quoted"')
    (entry,) = parsed(json_out)
    assert entry["message"] == 'reason: two\nlines\u2028and a separator "quoted"'
    assert json_out.getvalue().isascii()
