"""Appreciation by emoji reaction: `reaction_added` and `reaction_removed`.

No channel noise: one reply in the message's thread names everyone who appreciated it this
way (updated as more react), and the author gets one DM per giver.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import reactions as render
from bot.domain import Workspace
from bot.errors import UserError
from bot.listeners.common import config_of, looked_up, workspace_of
from bot.runtime import Runtime
from bot.services import appreciation, outbox, reactions
from bot.services.reactions import Reaction
from bot.store.models import OutboxMessage

log = logging.getLogger(__name__)


def register(app: App, runtime: Runtime) -> None:
    def reaction_of(event: dict[str, Any]) -> Reaction | None:
        """The reaction when it is one that appreciates, on a person's message, by another."""
        name = reactions.base_name(str(event.get("reaction") or ""))
        item = event.get("item") or {}
        author = event.get("item_user")
        giver = event.get("user")
        if name not in runtime.settings.reactions or item.get("type") != "message":
            return None
        if not author or not giver or author == giver or not item.get("channel"):
            return None
        return Reaction(item["channel"], str(item.get("ts")), giver, author, name)

    @app.event("reaction_added")
    def added(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        reaction = reaction_of(event)
        if reaction is None:
            return
        workspace = workspace_of(context)
        now = runtime.clock()
        if not reactions.claim(runtime.db, workspace, reaction, now) and not reactions.pending(
            runtime.db, workspace, reaction
        ):
            return  # already counted: a redelivery, or another of the emoji
        settings = config_of(runtime, workspace)
        lookup = looked_up(runtime, client, workspace, [reaction.giver_id, reaction.author_id])
        giver, author = lookup(reaction.giver_id), lookup(reaction.author_id)
        if giver is None or author is None or author.is_bot or author.deleted or giver.is_bot:
            reactions.settle(runtime.db, workspace, reaction, "refused", now)
            return
        text, thread_ts = _read(client, reaction)
        draft = appreciation.Draft(
            giver_id=reaction.giver_id,
            recipient_ids=[reaction.author_id],
            reason=text[: appreciation.MAX_REASON],
            message_ts=reaction.message_ts,
            message_permalink=_permalink(client, reaction),
            said_in_private=runtime.conversations.private(
                client, workspace.team_id, reaction.channel_id
            ),
            source_key=reaction.source_key,
            notify=False,
        )
        try:
            recorded = appreciation.record(
                runtime.db,
                workspace,
                draft,
                giver,
                now,
                daily_limit=settings.daily_limit,
                fallback_tz=settings.timezone,
            )
        except UserError:
            reactions.settle(runtime.db, workspace, reaction, "refused", now)
            day = now.astimezone(giver.zone(settings.timezone)).date()
            tell = outbox.ephemeral(
                workspace,
                key=f"reaction:limit:{reaction.giver_id}:{day.isoformat()}",
                channel_id=reaction.channel_id,
                user_id=reaction.giver_id,
                message=render.over_limit(settings.daily_limit),
                now=now,
            )
            runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, [tell]))
            return
        if not reactions.settle(
            runtime.db, workspace, reaction, "counted", now, recorded.appreciation_id
        ):
            # Removed while it was being counted: it never was.
            reactions.take_back(
                runtime.db, workspace, reaction, recorded.appreciation_id, giver, settings.timezone
            )
            return
        thanks = appreciation.get(runtime.db, workspace, recorded.appreciation_id)
        if thanks is not None:
            tell_author(client, workspace, reaction, render.author_dm(thanks, reaction.reaction))
        refresh_thread(client, workspace, reaction, thread_ts)

    @app.event("reaction_removed")
    def removed(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        reaction = reaction_of(event)
        if reaction is None:
            return
        workspace = workspace_of(context)
        settings = config_of(runtime, workspace)
        giver = looked_up(runtime, client, workspace, [reaction.giver_id])(reaction.giver_id)
        if not reactions.withdraw(
            runtime.db, workspace, reaction, giver, runtime.clock(), settings.timezone
        ):
            return  # not counted, another emoji, or past the window: it stays
        tell_author(
            client, workspace, reaction, render.withdrawn_dm(reaction.giver_id), sent_only=True
        )
        refresh_thread(client, workspace, reaction, None)

    def tell_author(
        client: WebClient,
        workspace: Workspace,
        reaction: Reaction,
        message: dict[str, Any],
        *,
        sent_only: bool = False,
    ) -> None:
        """One DM per giver and message: sent once, then edited (withdrawn, counted again).
        `sent_only`: a DM not sent yet is dropped instead (a withdrawal needs no news)."""
        key = f"{reaction.source_key}:dm"
        row = outbox.find(runtime.db, workspace, key)
        if row is not None and row.status == "sent" and row.sent_ts:
            _update(client, row, message)
        elif row is not None and row.status == "pending" and sent_only:
            outbox.drop_unsent(runtime.db, row.id)
        elif row is not None and row.status == "pending":
            outbox.rewrite(runtime.db, row.id, message)
        elif row is None and not sent_only:
            dm = outbox.direct_message(
                workspace,
                key=key,
                user_id=reaction.author_id,
                message=message,
                now=runtime.clock(),
            )
            runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, [dm]))

    def refresh_thread(
        client: WebClient, workspace: Workspace, reaction: Reaction, thread_ts: str | None
    ) -> None:
        """Post or redraw the reply naming everyone who appreciated the message."""
        key = f"reaction:{reaction.channel_id}:{reaction.message_ts}:thread"
        for _ in range(3):  # until what is shown is who appreciates it now
            givers = reactions.givers_of(
                runtime.db, workspace, reaction.channel_id, reaction.message_ts
            )
            body = render.thread_reply(reaction.author_id, givers, reaction.reaction)
            row = outbox.find(runtime.db, workspace, key)
            if row is None and not givers:
                return  # nothing was said in the thread, and there is nothing to say
            if row is None:
                post = outbox.channel_post(
                    workspace,
                    key=key,
                    channel_id=reaction.channel_id,
                    message={**body, "thread_ts": thread_ts or reaction.message_ts},
                    now=runtime.clock(),
                )
                runtime.sender.deliver(outbox.enqueue(runtime.db, workspace, [post]))
            elif row.status == "sent" and row.sent_ts:
                if row.payload.get("text") != body["text"]:
                    _update(client, row, body)
                    outbox.rewrite(runtime.db, row.id, {**row.payload, **body})
            elif row.status == "pending":
                outbox.rewrite(runtime.db, row.id, {**row.payload, **body})
            after = reactions.givers_of(
                runtime.db, workspace, reaction.channel_id, reaction.message_ts
            )
            if after == givers:
                return


def _read(client: WebClient, reaction: Reaction) -> tuple[str, str | None]:
    """The message's text and its thread, when the app may read the channel."""
    ts = reaction.message_ts
    try:
        found: list[dict[str, Any]] = client.conversations_history(
            channel=reaction.channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
        ).get("messages", [])
        if not found:
            found = client.conversations_replies(
                channel=reaction.channel_id, ts=ts, latest=ts, inclusive=True, limit=1
            ).get("messages", [])
    except SlackApiError as error:
        # Not a member (or a private channel): appreciated all the same, without the text.
        log.info("cannot read %s: %s", reaction.channel_id, error.response.get("error"))
        return "", None
    for message in found:
        if message.get("ts") == ts:
            return str(message.get("text") or ""), message.get("thread_ts")
    return "", None


def _permalink(client: WebClient, reaction: Reaction) -> str | None:
    try:
        answer = client.chat_getPermalink(
            channel=reaction.channel_id, message_ts=reaction.message_ts
        )
    except SlackApiError:
        return None
    return str(answer.get("permalink") or "") or None


def _update(client: WebClient, row: OutboxMessage, body: dict[str, Any]) -> None:
    try:
        client.chat_update(
            channel=row.sent_channel_id or row.channel_id,
            ts=row.sent_ts or "",
            text=body["text"],
            blocks=body.get("blocks"),
        )
    except SlackApiError as error:
        log.warning("could not update %s: %s", row.dedupe_key, error.response.get("error"))
