"""The outbox sender: delivers what the database says the app owes Slack, exactly once.

Each message is claimed (a lease in `claimed_until`), sent, then marked sent. When a lease
expires because its process died, the next sender first looks for the earlier post by the
`metadata` key every post carries, so a crash between "posted" and "marked" never doubles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from sqlalchemy import CursorResult, or_, select, update

from bot.clock import Clock
from bot.services.outbox import Delivery
from bot.slack.client import ClientProvider
from bot.store.db import Database
from bot.store.models import OutboxMessage, Person

log = logging.getLogger(__name__)

AfterSent = Callable[[Database, OutboxMessage, str | None, datetime], list[int]]

METADATA_EVENT = "advocate_delivery"
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10
# Messages one tick sends at most: with a 15-second tick, about 400 a minute, well inside
# what Slack allows a workspace; 429s slow it further.
BATCH = 100
# Slack answered but will never accept this message: retrying would not help.
CHANNEL_UNREACHABLE = {"not_in_channel", "channel_not_found", "is_archived"}
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class OutboxSender:
    def __init__(
        self,
        db: Database,
        clients: ClientProvider,
        clock: Clock,
        on_sent: AfterSent | None = None,
    ) -> None:
        self.db = db
        self.clients = clients
        self.clock = clock
        # Called once a message is in Slack; returns ids of follow-ups to send right after
        # (an ask's thread questions need the ts of the ask's own post).
        self.on_sent = on_sent

    def deliver(self, ids: list[int], *, stop_when_rate_limited: bool = False) -> list[Delivery]:
        """Try to send these messages now (right after they were recorded).

        With `stop_when_rate_limited`, a batch stops at the first message Slack still rate
        limits after waiting out Retry-After; the rest wait for the next tick.
        """
        results = []
        for message_id in ids:
            result = self._deliver_one(message_id)
            results.append(result)
            if stop_when_rate_limited and result.error in ("ratelimited", "http_429"):
                break
        return results

    def deliver_due(self, limit: int = BATCH) -> list[Delivery]:
        """Send every message that is due and not held by a live claim."""
        now = self.clock()
        with self.db.transaction() as session:
            ids = list(
                session.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.next_attempt_at <= now,
                        or_(
                            OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now
                        ),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(limit)
                )
            )
        return self.deliver(ids, stop_when_rate_limited=True)

    def _claim(self, message_id: int) -> OutboxMessage | None:
        now = self.clock()
        with self.db.transaction() as session:
            claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                )
                .values(claimed_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                return None
            return session.get(OutboxMessage, message_id)

    def _deliver_one(self, message_id: int) -> Delivery:
        message = self._claim(message_id)
        if message is None:
            return self._current(message_id)
        client = self.clients.client_for(message.team_id, message.enterprise_id)
        try:
            channel_id = self._target_channel(client, message)
            ts = None
            if message.attempts > 1:
                ts = self._find_earlier_post(client, message, channel_id)
            ts = ts or self._post(client, message, channel_id)
            delivery = self._mark_sent(message, channel_id, ts)
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            status = error.response.status_code
            if status == 429 or status >= 500 or code in TRANSIENT_ERRORS:
                return self._retry_later(message, code or f"http_{status}")
            if (
                message.kind == "channel_post"
                and code in CHANNEL_UNREACHABLE
                and message.response_url
            ):
                return self._post_via_response_url(message, code)
            return self._fail(message, code or f"http_{status}")
        except (SlackClientError, OSError) as error:
            return self._retry_later(message, type(error).__name__)
        if self.on_sent is not None:
            self.deliver(self.on_sent(self.db, message, ts, self.clock()))
        return delivery

    def _target_channel(self, client: WebClient, message: OutboxMessage) -> str:
        if message.kind != "dm":
            return message.channel_id
        # Post into the DM's own channel id, so history can be searched after a crash. The
        # id is kept: conversations.open is rate limited more tightly than posting.
        with self.db.transaction() as session:
            known = session.scalar(
                select(Person.dm_channel_id).where(
                    Person.team_id == message.team_id, Person.user_id == message.user_id
                )
            )
        if known:
            return known
        opened = client.conversations_open(users=message.user_id)
        channel_id = str(opened["channel"]["id"])
        with self.db.transaction() as session:
            session.execute(
                update(Person)
                .where(Person.team_id == message.team_id, Person.user_id == message.user_id)
                .values(dm_channel_id=channel_id)
                .execution_options(synchronize_session=False)
            )
        return channel_id

    def _post(self, client: WebClient, message: OutboxMessage, channel_id: str) -> str:
        payload: dict[str, Any] = dict(message.payload)
        response = client.chat_postMessage(
            channel=channel_id,
            text=payload.get("text", ""),
            blocks=payload.get("blocks"),
            thread_ts=payload.get("thread_ts"),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": message.dedupe_key}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    def _find_earlier_post(
        self, client: WebClient, message: OutboxMessage, channel_id: str
    ) -> str | None:
        oldest = (message.created_at - timedelta(minutes=1)).timestamp()
        thread_ts = (message.payload or {}).get("thread_ts")
        try:
            if thread_ts:
                # Replies are not in conversations.history; they are in the thread.
                history = client.conversations_replies(
                    channel=channel_id,
                    ts=thread_ts,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                )
            else:
                history = client.conversations_history(
                    channel=channel_id,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=200,
                )
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                raise
            # A public channel posted to without joining cannot be read back.
            log.warning("cannot check %s for an earlier post of %s", channel_id, message.dedupe_key)
            return None
        posted: dict[str, Any]
        for posted in history.get("messages", []):
            meta: dict[str, Any] = posted.get("metadata") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and (meta.get("event_payload") or {}).get("key") == message.dedupe_key
            ):
                return str(posted["ts"])
        return None

    def _post_via_response_url(self, message: OutboxMessage, why: str) -> Delivery:
        assert message.response_url
        payload = dict(message.payload)
        response = WebhookClient(message.response_url, timeout=10).send(
            text=payload.get("text", ""),
            blocks=payload.get("blocks"),
            response_type="in_channel",
            replace_original=False,
        )
        if response.status_code == 200:
            delivered = self._mark_sent(message, message.channel_id, None)
            return Delivery(delivered.id, "sent", message.channel_id, via_response_url=True)
        log.warning("response_url post failed: %s %s", response.status_code, response.body)
        return self._fail(message, why)

    def _mark_sent(self, message: OutboxMessage, channel_id: str, ts: str | None) -> Delivery:
        now = self.clock()
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    status="sent",
                    sent_at=now,
                    sent_ts=ts,
                    sent_channel_id=channel_id,
                    claimed_until=None,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )
        return Delivery(message.id, "sent", channel_id)

    def _retry_later(self, message: OutboxMessage, error: str) -> Delivery:
        if message.attempts >= MAX_ATTEMPTS:
            return self._fail(message, error)
        delay = timedelta(seconds=min(5 * 2 ** (message.attempts - 1), 1800))
        log.warning(
            "outbox %s (%s) will retry in %s: %s", message.id, message.dedupe_key, delay, error
        )
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(
                    claimed_until=None, next_attempt_at=self.clock() + delay, last_error=error[:255]
                )
                .execution_options(synchronize_session=False)
            )
        return Delivery(message.id, "pending", error=error)

    def _fail(self, message: OutboxMessage, error: str) -> Delivery:
        log.warning("outbox %s (%s) failed for good: %s", message.id, message.dedupe_key, error)
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id)
                .values(status="failed", claimed_until=None, last_error=error[:255])
                .execution_options(synchronize_session=False)
            )
        return Delivery(message.id, "failed", message.channel_id, error=error)

    def _current(self, message_id: int) -> Delivery:
        with self.db.transaction() as session:
            row = session.get(OutboxMessage, message_id)
            if row is None:
                return Delivery(message_id, "failed", error="missing")
            return Delivery(
                row.id, row.status, row.sent_channel_id or row.channel_id, row.last_error
            )
