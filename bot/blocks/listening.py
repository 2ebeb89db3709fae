"""`/listen`: the question to a colleague, their form, and the answer that reaches the asker."""

from __future__ import annotations

# Opens the /listen form with a colleague preselected (value: their user id); on the Home's
# "your people" and after a check-in's buy-in goal.
LISTEN_OPEN = "listen_open"
# The check-in's follow-up, "Did you act on it?": value is "<listen id>|<ISO week>".
FOLLOWUP_PREFIX = "listen_followup_"
FOLLOWUP_ANSWERS = ("yes", "not_yet", "skip")


def followup_value(listen_id: int, week: str) -> str:
    return f"{listen_id}|{week}"


def from_followup_value(value: str) -> tuple[int, str] | None:
    listen_id, _, week = value.partition("|")
    return (int(listen_id), week) if listen_id.isdigit() and week else None
