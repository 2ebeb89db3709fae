"""The admin settings modal and a person's check-in schedule modal."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.common import Block, plain
from bot.blocks.home import DAY_NAMES
from bot.services.settings import WorkspaceSettings, values_text

SETTINGS_MODAL = "settings_modal"
SCHEDULE_MODAL = "checkin_schedule_modal"

_AUDIENCES = {
    "users": "People who use the app",
    "all": "All members (no guests or bots)",
    "channel": "Members of a channel",
}


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def _day_select(block_id: str, label: str, initial: str) -> Block:
    options = [_option(day, name) for day, name in DAY_NAMES.items()]
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            "initial_option": _option(initial, DAY_NAMES[initial]),
        },
    }


def _time(block_id: str, label: str, initial: str) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {"type": "timepicker", "action_id": "value", "initial_time": initial},
    }


def _text(
    block_id: str,
    label: str,
    initial: str,
    *,
    multiline: bool = False,
    hint: str | None = None,
    optional: bool = False,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": multiline,
            **({"initial_value": initial} if initial else {}),
        },
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _channel(block_id: str, label: str, initial: str | None, *, optional: bool) -> Block:
    element: Block = {
        "type": "conversations_select",
        "action_id": "value",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if initial:
        element["initial_conversation"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": element,
    }


def settings_modal(config: WorkspaceSettings) -> dict[str, Any]:
    audience_options = [_option(k, v) for k, v in _AUDIENCES.items()]
    admins: Block = {"type": "multi_users_select", "action_id": "value"}
    if config.admins:
        admins["initial_users"] = list(config.admins)
    blocks: list[Block] = [
        _channel("digest_channel", "Digest channel", config.digest_channel, optional=True),
        _day_select("digest_day", "Digest day", config.digest_day),
        _time("digest_time", "Digest time", config.digest_time),
        _text(
            "timezone",
            "Workspace timezone",
            config.timezone,
            hint="An IANA name, like Europe/Paris or America/New_York.",
        ),
        _text(
            "daily_limit",
            "Appreciations one person may give per day",
            str(config.daily_limit),
            hint="1 to 100, counted in each person's own day.",
        ),
        _text(
            "values",
            "Company values, one per line",
            values_text(config),
            multiline=True,
            optional=True,
            hint="Add a line to add a value, remove it to retire it (old appreciations keep "
            "it), write old => new to rename.",
        ),
        {
            "type": "input",
            "block_id": "checkin_audience",
            "label": plain("Who gets check-ins"),
            "element": {
                "type": "radio_buttons",
                "action_id": "value",
                "options": audience_options,
                "initial_option": _option(
                    config.checkin_audience, _AUDIENCES[config.checkin_audience]
                ),
            },
        },
        _channel(
            "checkin_channel",
            "Check-in channel (for members of a channel)",
            config.checkin_channel,
            optional=True,
        ),
        _day_select("checkin_day", "Check-in day (each person's own timezone)", config.checkin_day),
        _time("checkin_time", "Check-in time", config.checkin_time),
        {
            "type": "input",
            "block_id": "admins",
            "optional": True,
            "label": plain("Extra admins, besides Slack admins"),
            "element": admins,
        },
    ]
    return {
        "type": "modal",
        "callback_id": SETTINGS_MODAL,
        "title": plain("Workspace settings", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def schedule_modal(day: str, time: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": SCHEDULE_MODAL,
        "title": plain("Your check-ins", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({}),
        "blocks": [
            _day_select("day", "Day", day),
            _time("time", "Time (your timezone)", time),
        ],
    }
