"""The messages an ask owes Slack, queued in the outbox so each is posted exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks import asks as render
from bot.domain import Workspace
from bot.services import asks, outbox
from bot.store.db import Database
from bot.store.models import Ask, OutboxMessage


def in_thread(
    workspace: Workspace, ask: Ask, key: str, message: dict[str, Any], now: datetime
) -> OutboxMessage:
    return outbox.channel_post(
        workspace,
        key=f"ask:{ask.id}:{key}",
        channel_id=ask.channel_id,
        message={**message, "thread_ts": ask.thread_ts},
        now=now,
    )


def first_posts(
    db: Database, workspace: Workspace, ask: Ask, now: datetime, response_url: str | None = None
) -> list[int]:
    """What starts an ask: its own post (the questions follow it), or, for an ask made from
    a message, a status reply and the questions in that message's thread."""
    if ask.from_message:
        return outbox.enqueue(
            db,
            workspace,
            [
                in_thread(workspace, ask, "status", render.status_reply(ask), now),
                in_thread(workspace, ask, "questions", render.questions(ask), now),
            ],
        )
    post = outbox.channel_post(
        workspace,
        key=f"ask:{ask.id}:post",
        channel_id=ask.channel_id,
        message=render.ask_message(ask),
        now=now,
    )
    return outbox.enqueue(db, workspace, [post])


def after_sent(db: Database, message: OutboxMessage, ts: str | None, now: datetime) -> list[int]:
    """Called by the outbox sender once a message is in Slack; returns follow-ups to send."""
    parts = message.dedupe_key.split(":")
    if len(parts) != 3 or parts[0] != "ask" or not ts:
        return []
    workspace = Workspace(message.team_id, message.enterprise_id)
    ask_id, what = int(parts[1]), parts[2]
    if what == "status":
        asks.record_posted(db, workspace, ask_id, ts, status=True)
    if what != "post":
        return []
    asks.record_posted(db, workspace, ask_id, ts, status=True)
    ask = asks.get(db, workspace, ask_id)
    if ask is None:
        return []
    return outbox.enqueue(
        db, workspace, [in_thread(workspace, ask, "questions", render.questions(ask), now)]
    )


def event_post(
    db: Database, workspace: Workspace, ask: Ask, event: str, now: datetime
) -> list[int]:
    """The thread reply after an answer (commit, decline, done...), posted once."""
    return outbox.enqueue(
        db, workspace, [in_thread(workspace, ask, event, render.event_posted(ask, event), now)]
    )


def obstacle_post(
    db: Database, workspace: Workspace, ask: Ask, obstacle_id: int, status: str, now: datetime
) -> list[int]:
    obstacle = next(o for o in ask.obstacles if o.id == obstacle_id)
    message = (
        render.obstacle_posted(ask, obstacle)
        if status == "open"
        else render.obstacle_update(ask, obstacle)
    )
    return outbox.enqueue(
        db,
        workspace,
        [in_thread(workspace, ask, f"obstacle-{obstacle_id}-{status}", message, now)],
    )
