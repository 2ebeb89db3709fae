"""Block Kit building blocks used across messages, modals and the Home tab."""

from __future__ import annotations

from typing import Any

from bot.text import truncate

Block = dict[str, Any]

SECTION_LIMIT = 3000


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def mrkdwn(text: str, *, verbatim: bool = False) -> dict[str, Any]:
    # verbatim=True stops Slack from turning bare words into links or mentions: used for
    # anything that carries text a person typed.
    obj: dict[str, Any] = {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}
    if verbatim:
        obj["verbatim"] = True
    return obj


def section(text: str, *, verbatim: bool = False, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text, verbatim=verbatim)}
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t, verbatim=True) for t in texts[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, 150)}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": plain(text), "action_id": action_id}
    if value:
        element["value"] = value[:2000]
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    """A message body: `text` is the notification and screen-reader fallback."""
    return {"text": truncate(text, 3000), "blocks": blocks[:50]}
