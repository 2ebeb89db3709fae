"""Posting the weekly digest: once per week and channel, whoever runs it and how often, each
covering the days since the one before."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update

from bot.blocks.digest import covers, digest_message
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import digest as digests
from bot.services import outbox
from bot.services.people import admins_of
from bot.services.settings import WorkspaceSettings
from bot.slack.client import not_answering
from bot.store.db import insert_ignoring_conflicts
from bot.store.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestOutcome:
    status: str  # posted | already | empty | problem | pending
    week: str
    channel: str | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "problem"


def post_digest(
    runtime: Runtime,
    workspace: Workspace,
    config: WorkspaceSettings,
    week: str,
    channel: str | None,
    now: datetime,
) -> DigestOutcome:
    """Build and post the digest scheduled in `week` to `channel`, unless that already
    happened, and record the days it covers. Posted before its scheduled instant, it covers
    the days until `now`."""
    if not channel:
        return DigestOutcome("problem", week, None, "no digest channel is set")
    key = f"digest:{week}:{channel}"
    existing = outbox.find(runtime.db, workspace, key)
    if existing is not None and existing.status == "sent":
        return DigestOutcome("already", week, channel, f"the {week} digest is already posted")
    # Built now, it holds what was given until now: the days after are left to the next one.
    window = digests.window(runtime.db, workspace, week, config).until(now)
    days = covers(window.start, window.end, config.timezone)
    digest = digests.build(runtime.db, workspace, window, config.timezone)
    if digest is None:
        return DigestOutcome(
            "empty",
            week,
            channel,
            f"no appreciation for the {week} digest, which covers {days}; nothing to post",
        )
    client = runtime.clients.client_for(workspace.team_id, workspace.enterprise_id)
    try:
        problem = reachable(client, channel)
    except Exception as error:
        if not not_answering(error):
            raise
        # Slack is down: queue it all the same; the outbox posts it once Slack answers.
        log.warning("could not check channel %s (%s); queueing the digest", channel, error)
        problem = None
    if problem:
        _tell_admins(runtime, workspace, config, week, channel, problem, now)
        return DigestOutcome("problem", week, channel, problem)
    message = digest_message(digest)
    with runtime.db.transaction() as session:
        row = outbox.channel_post(workspace, key=key, channel_id=channel, message=message, now=now)
        insert_ignoring_conflicts(session, OutboxMessage, [_values(row)], ["team_id", "dedupe_key"])
        digests.record(session, workspace, window, channel, now)
        # A digest that failed before (the channel was unreachable) may go now.
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.team_id == workspace.team_id,
                OutboxMessage.dedupe_key == key,
                OutboxMessage.status == "failed",
            )
            .values(status="pending", attempts=0, next_attempt_at=now, payload=message)
            .execution_options(synchronize_session=False)
        )
        # Asked for now: a digest queued while Slack was down is tried at once, not when its
        # retry comes (the sender's clock, which its retry times are written on).
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.team_id == workspace.team_id,
                OutboxMessage.dedupe_key == key,
                OutboxMessage.status == "pending",
            )
            .values(next_attempt_at=runtime.sender.clock())
            .execution_options(synchronize_session=False)
        )
    found = outbox.find(runtime.db, workspace, key)
    assert found is not None
    [delivery] = runtime.sender.deliver([found.id])
    if delivery.status == "sent":
        return DigestOutcome(
            "posted", week, channel, f"posted the {week} digest in {channel}, covering {days}"
        )
    if delivery.status == "pending":
        return DigestOutcome(
            "pending", week, channel, "queued; it will be posted when Slack answers"
        )
    return DigestOutcome("problem", week, channel, f"Slack refused it: {delivery.error}")


def reachable(client: WebClient, channel: str) -> str | None:
    """None when the app can post in `channel` (joining it if public); else why not."""
    try:
        info = client.conversations_info(channel=channel)["channel"]
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "channel_not_found":
            return (
                f"channel {channel} was not found, or it is private and the app is not in it: "
                "invite the app with /invite @Advocate, or choose another channel"
            )
        raise
    if info.get("is_archived"):
        return f"channel {channel} is archived: choose another digest channel"
    if not info.get("is_member"):
        if info.get("is_private"):
            return f"the app is not in private channel {channel}: invite it with /invite @Advocate"
        client.conversations_join(channel=channel)
    return None


def _tell_admins(
    runtime: Runtime,
    workspace: Workspace,
    config: WorkspaceSettings,
    week: str,
    channel: str,
    problem: str,
    now: datetime,
) -> None:
    text = f":warning: I couldn't post this week's internal advocates digest ({week}): {problem}."
    rows = [
        _values(
            outbox.direct_message(
                workspace,
                key=f"digest-problem:{week}:{channel}:{admin}",
                user_id=admin,
                message={"text": text},
                now=now,
            )
        )
        for admin in admins_of(runtime.db, workspace, config)
    ]
    with runtime.db.transaction() as session:
        insert_ignoring_conflicts(session, OutboxMessage, rows, ["team_id", "dedupe_key"])
    log.warning("digest %s for %s not posted: %s", week, workspace.team_id, problem)


def _values(row: OutboxMessage) -> dict[str, object]:
    return {c.key: getattr(row, c.key) for c in OutboxMessage.__table__.columns if c.key != "id"}
