"""Opening the appreciation modal, from a command, a shortcut or a button."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.blocks import appreciation as blocks
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services.settings import for_workspace


def open_appreciation_modal(
    client: WebClient,
    runtime: Runtime,
    workspace: Workspace,
    *,
    trigger_id: str,
    channel_id: str | None = None,
    response_url: str | None = None,
    recipients: list[str] | None = None,
    message_ts: str | None = None,
    permalink: str | None = None,
    linked_text: str | None = None,
    ask_id: int | None = None,
    reason: str | None = None,
    said_in: str | None = None,
) -> None:
    """`said_in`: the private conversation the words come from (the message's, the ask's),
    the only one the appreciation may be shared in."""
    # Only channels can be preselected in a conversations picker; DMs (D...) cannot.
    postable = channel_id if channel_id and channel_id[0] in "CG" else None
    metadata = {
        "channel_id": postable,
        "response_url": response_url if postable else None,
        "message_ts": message_ts,
        "permalink": permalink,
        "ask_id": ask_id,
        "said_in": said_in,
    }
    view = blocks.modal(
        values=for_workspace(runtime.db, workspace, runtime.settings).values,
        metadata={k: v for k, v in metadata.items() if v},
        recipients=recipients or [],
        channel_id=postable,
        linked_text=linked_text,
        reason=reason,
        from_private=said_in is not None,
    )
    client.views_open(trigger_id=trigger_id, view=view)
