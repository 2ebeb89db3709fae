"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.errors import UserError
from bot.listeners.common import config_of, looked_up, metadata_of, tell, workspace_of
from bot.runtime import Runtime
from bot.services import appreciation


def register(app: App, runtime: Runtime) -> None:
    @app.view(blocks.MODAL_CALLBACK)
    def appreciation_submitted(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        draft = draft_from_view(view, giver_id=body["user"]["id"])
        # Only values the workspace offers: the modal's options are ours, a forged one is not.
        offered = config_of(runtime, workspace_of(context)).values
        draft.values = [v for v in draft.values if v in offered]
        try:
            appreciation.check_draft(draft)
        except UserError as error:
            ack(response_action="errors", errors={error.field or "reason": error.message})
            return
        ack()
        workspace = workspace_of(context)
        settings = config_of(runtime, workspace)
        try:
            summary = appreciation.give(
                runtime.db,
                workspace,
                draft,
                runtime.clock(),
                lookup=looked_up(
                    runtime, client, workspace, [draft.giver_id, *draft.recipient_ids]
                ),
                deliver=runtime.sender.deliver,
                daily_limit=settings.daily_limit,
                fallback_tz=settings.timezone,
            )
        except UserError as error:
            summary = f"Not sent: {error.message}"
        tell(client, summary, user_id=draft.giver_id, channel_id=draft.channel_id)


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
