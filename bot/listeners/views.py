"""Modal submissions."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks import appreciation as blocks
from bot.domain import Workspace
from bot.errors import UserError
from bot.listeners.common import (
    ask_said_in_private,
    config_of,
    looked_up,
    metadata_of,
    tell,
)
from bot.listeners.forms import Form, Refused, Submission
from bot.runtime import Runtime
from bot.services import appreciation, asks
from bot.slack import ask_status
from bot.store.models import Ask

log = logging.getLogger(__name__)


def forms(runtime: Runtime) -> list[Form]:
    """The appreciation form: checked before its modal closes, applied once after."""

    def check(form: Submission) -> dict[str, Any]:
        draft = draft_from_view(form.view, giver_id=form.user_id)
        # Only values the workspace offers: the modal's options are ours, a forged one is not.
        offered = config_of(runtime, form.workspace).values
        draft.values = [v for v in draft.values if v in offered]
        try:
            appreciation.check_draft(draft)
        except UserError as error:
            raise Refused({error.field or "reason": error.message}) from None
        said_in = form.metadata.get("said_in")
        if said_in and draft.channel_id and draft.channel_id != said_in:
            raise Refused({"channel": blocks.PRIVATE_ELSEWHERE})
        return {"draft": asdict(draft), "said_in": said_in}

    def apply(form: Submission, accepted: dict[str, Any]) -> None:
        draft = appreciation.Draft(**accepted["draft"])
        workspace, client = form.workspace, form.client
        settings = config_of(runtime, workspace)
        ask = asks.get(runtime.db, workspace, draft.ask_id) if draft.ask_id else None
        where_said(runtime, client, workspace, draft, accepted["said_in"], ask)
        if ask is not None and ask.channel_id == draft.channel_id:
            in_the_thread(runtime, client, ask, draft)
        try:
            summary = appreciation.give(
                runtime.db,
                workspace,
                draft,
                runtime.clock(),
                lookup=looked_up(
                    runtime, client, workspace, [draft.giver_id, *draft.recipient_ids]
                ),
                deliver=runtime.sender.deliver_claimed,
                daily_limit=settings.daily_limit,
                fallback_tz=settings.timezone,
            )
        except UserError as error:
            summary = f"Not sent: {error.message}"
        else:
            if ask is not None:  # its status line now says it was thanked
                thanked = asks.get(runtime.db, workspace, ask.id)
                if thanked is not None:
                    ask_status.refresh(client, thanked)
        tell(client, summary, user_id=draft.giver_id, channel_id=draft.channel_id)

    return [Form(blocks.MODAL_CALLBACK, check, apply)]


def where_said(
    runtime: Runtime,
    client: WebClient,
    workspace: Workspace,
    draft: appreciation.Draft,
    said_in: str | None,
    ask: Ask | None,
) -> None:
    """Whether the thanks' words are said in private: they come from a private conversation
    (the message's, the ask's), or are shared in one. Those from a private conversation are
    shared there or nowhere, whatever a form opened before that was checked says."""
    if said_in is None and ask is not None and ask_said_in_private(runtime, client, ask):
        said_in = ask.channel_id
    if said_in and draft.channel_id and draft.channel_id != said_in:
        draft.channel_id = draft.response_url = None
    draft.said_in_private = bool(said_in) or bool(
        draft.channel_id
        and runtime.conversations.private(client, workspace.team_id, draft.channel_id)
    )


def in_the_thread(runtime: Runtime, client: WebClient, ask: Ask, draft: appreciation.Draft) -> None:
    """The thanks for an ask goes in its thread, shown in the channel too when the channel
    is public, and links the ask. Slack not answering costs the broadcast and the link."""
    draft.broadcast = not runtime.conversations.private(client, ask.team_id, ask.channel_id)
    if not ask.status_ts:
        return
    try:
        link = client.chat_getPermalink(channel=ask.channel_id, message_ts=ask.status_ts)
        draft.message_permalink = link.get("permalink")
    except (SlackApiError, SlackClientError, OSError) as error:
        log.warning("could not link the thread of ask %s: %s", ask.id, error)


def draft_from_view(view: dict[str, Any], *, giver_id: str) -> appreciation.Draft:
    """Read the modal's state into a Draft (nothing checked yet)."""
    state = view["state"]["values"]
    metadata = metadata_of(view)

    def field(block: str) -> dict[str, Any]:
        return (state.get(block) or {}).get("value") or {}

    channel_id = field("channel").get("selected_conversation")
    is_private = (field("visibility").get("selected_option") or {}).get("value") == "private"
    return appreciation.Draft(
        giver_id=giver_id,
        recipient_ids=list(dict.fromkeys(field("recipients").get("selected_users") or [])),
        reason=(field("reason").get("value") or "").strip(),
        values=[o["value"] for o in field("values").get("selected_options") or []],
        is_private=is_private,
        channel_id=channel_id,
        # The command's response_url reaches only the channel the command was typed in.
        response_url=metadata.get("response_url")
        if channel_id and channel_id == metadata.get("channel_id")
        else None,
        message_ts=metadata.get("message_ts"),
        message_permalink=metadata.get("permalink"),
        ask_id=metadata.get("ask_id"),
        source_key=f"view:{view['id']}",
    )
