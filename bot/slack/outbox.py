"""The outbox sender: delivers what the database says the app owes Slack, exactly once.

The messages of one delivery (an appreciation's posts, a tick's batch) are claimed together
in one transaction (a lease in `claimed_until`, and a token of the claim's own in
`claim_token`); then each is sent and marked sent. When a lease expires because its process
died, the next sender first looks for the earlier post by the `metadata` key every post
carries, so a crash between "posted" and "marked" never doubles.

The claim is a fence: before every Web API call the sender makes sure its lease outlasts
the longest that call can take (renewing it if not), and a call never sleeps longer than
that (a long Retry-After is answered by trying again later, see `ShortRateLimitWaits`).
Every renewal and every mark only touches rows that still carry the claim's token: a
sender that lost its claim (another took the row over) stops without posting or marking.
What it did not try is handed back. A claim whose sender died on this machine is taken
back at once (bot/holders.py) by the next tick or worker, not when its lease ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from sqlalchemy import ColumnElement, bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from bot import holders, metrics
from bot.clock import Clock, system_clock
from bot.domain import TokenOwner
from bot.services import steps
from bot.services.outbox import LEASE, Claim, Delivery, Posted, known_dm_channels
from bot.slack.client import MAX_RATE_LIMIT_WAIT, ClientProvider, ForeignWorkspace, retry_after
from bot.store.db import Database
from bot.store.models import OutboxMessage, Person

log = logging.getLogger(__name__)

AfterSent = Callable[[Database, OutboxMessage, str | None, datetime], list[int]]

METADATA_EVENT = "advocate_delivery"
# The longest one Web API call can take: three tries of the client's 10 s timeout and two
# rate-limit waits. A claim must outlast it before the call is made.
CALL_BUDGET = timedelta(seconds=3 * 10 + 2 * MAX_RATE_LIMIT_WAIT + 1)
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


# A batch marks what it sent this often (and at its end): a sender that dies before its
# marks leaves posts that the next one finds by their keys.
MARK_EVERY = 10


class ClaimLost(Exception):
    """Another sender took the message over: this one must not post or mark it."""


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

    def deliver(self, ids: list[int]) -> list[Delivery]:
        """Try to send these messages now (right after they were recorded)."""
        if not ids:
            return []
        return self._send(ids, self._claim(ids))

    def deliver_claimed(self, claim: Claim) -> list[Delivery]:
        """Send the messages recorded already claimed by this process (outbox.add_claimed)."""
        return self._send(sorted(claim.held), claim)

    def deliver_due(self, limit: int = BATCH) -> list[Delivery]:
        """Send every message that is due and not held by a live claim, at most `limit`.

        The batch stops at the first message Slack still rate limits after waiting out
        Retry-After; the rest wait for the next tick.
        """
        claim = self._claim(None, limit)
        return self._send(sorted(claim.held), claim, stop_when_rate_limited=True)

    def _send(
        self, ids: list[int], claim: Claim, *, stop_when_rate_limited: bool = False
    ) -> list[Delivery]:
        results: dict[int, Delivery] = {}
        try:
            for message_id in ids:
                if message_id in claim.others:
                    results[message_id] = claim.others[message_id]
                    continue
                self._keep(claim)
                message = claim.held.get(message_id)
                if message is None:  # the lease ran out and another sender took it over
                    results[message_id] = Delivery(message_id, "pending", error="claim_lost")
                    continue
                try:
                    result = self._deliver_one(message, claim)
                except ClaimLost:
                    log.warning("outbox %s: another sender took it over", message_id)
                    result = Delivery(message_id, "pending", error="claim_lost")
                if result.error != "foreign_workspace":
                    # Tried: no longer handed back. A message of another workspace is: it
                    # may yet be sent with its own workspace's token.
                    claim.held.pop(message_id, None)
                results[message_id] = result
                if len(claim.posted) >= MARK_EVERY:
                    results.update(self._mark_posted(claim))
                if stop_when_rate_limited and result.error in ("ratelimited", "http_429"):
                    break
        finally:
            # What is in Slack is marked even when the batch stopped on an error.
            results.update(self._mark_posted(claim))
            if claim.held:
                self._release(claim)
        return list(results.values())

    def _claim(self, ids: list[int] | None, limit: int | None = None) -> Claim:
        """Claim, in one transaction, every claimable message among `ids` (None: the first
        `limit` due), and read the DM channels already known for their people."""
        now = self.clock()
        claim = Claim.new(now)
        claimable = select(OutboxMessage.id).where(*_claimable(now))
        if ids is not None:
            claimable = claimable.where(OutboxMessage.id.in_(ids))
        else:
            claimable = claimable.where(*served_messages(self.clients.token_owner()))
        claimable = (
            claimable.order_by(OutboxMessage.id)
            .limit(limit)
            # Rows another sender is claiming right now are skipped, not waited for, and
            # rows are locked in one order, so two senders never deadlock (PostgreSQL).
            .with_for_update(skip_locked=True)
        )
        with self.db.transaction() as session:
            for message in session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(claimable))
                .values(**claim.stamp(), attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage)
                .execution_options(synchronize_session=False)
            ):
                claim.held[message.id] = message
            unclaimed = [i for i in ids or () if i not in claim.held]
            if unclaimed:
                for row in session.scalars(
                    select(OutboxMessage).where(OutboxMessage.id.in_(unclaimed))
                ):
                    claim.others[row.id] = Delivery(
                        row.id, row.status, row.sent_channel_id or row.channel_id, row.last_error
                    )
                for missing in set(unclaimed) - set(claim.others):
                    claim.others[missing] = Delivery(missing, "failed", error="missing")
            claim.dm_channels = known_dm_channels(session, list(claim.held.values()))
        return claim

    def take_back_from_the_dead(self) -> int:
        """Free the claims of senders of this machine that died; returns how many."""
        now = system_clock()
        with self.db.transaction() as session:
            dead = holders.dead_here(
                session.scalars(
                    select(OutboxMessage.claimed_by)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.claimed_until > now,
                        OutboxMessage.claimed_by.like(f"{holders.here()}%"),
                    )
                    .distinct()
                )
            )
            if not dead:
                return 0
            result = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.claimed_by.in_(dead),
                )
                .values(claimed_until=None, claim_token=None)
                .execution_options(synchronize_session=False)
            )
        freed = _rowcount(result)
        log.info("took back %s messages claimed by senders that died: %s", freed, dead)
        return freed

    def _keep(self, claim: Claim, need: timedelta = LEASE / 2) -> None:
        """Renew the lease unless it still outlasts `need` (over what is held, and what is
        posted but not yet marked); drop what another sender took over."""
        now = self.clock()
        if claim.until - now > need:
            return
        until = now + LEASE
        holding = [*claim.held, *(p.message.id for p in claim.posted)]
        with self.db.transaction() as session:
            kept = set(
                session.scalars(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(holding),
                        OutboxMessage.claim_token == claim.token,
                        OutboxMessage.status == "pending",
                    )
                    .values(claimed_until=until)
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                )
            )
        claim.held = {i: m for i, m in claim.held.items() if i in kept}
        claim.until = until

    def _release(self, claim: Claim) -> None:
        """Hand back messages claimed but not tried, as if never claimed."""
        try:
            with self.db.transaction() as session:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(list(claim.held)),
                        OutboxMessage.claim_token == claim.token,
                        OutboxMessage.status == "pending",
                    )
                    .values(
                        claimed_until=None, claim_token=None, attempts=OutboxMessage.attempts - 1
                    )
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            metrics.database_error("release")
            # They are taken over when the lease ends; the first look is at Slack's history.
            log.warning("could not hand back %s claimed outbox messages", len(claim.held))

    def _deliver_one(self, message: OutboxMessage, claim: Claim) -> Delivery:
        """Send one message; what reached Slack joins `claim.posted`, to be marked with the
        rest."""
        try:
            client = self.clients.client_for(message.team_id, message.enterprise_id)
        except ForeignWorkspace:
            return Delivery(message.id, "pending", error="foreign_workspace")
        except LookupError as error:
            # No installation for its workspace: no token will ever send it.
            log.error("outbox %s: no installation to send it with: %s", message.id, error)
            return self._fail(message, claim, "not_installed")
        except Exception as error:
            # A token that could not be refreshed or read (a changed encryption key): this
            # message waits and says why; the rest of the batch goes on.
            log.error("outbox %s: no token to send it with: %r", message.id, error)
            return self._retry_later(message, claim, f"token: {type(error).__name__}")
        known = claim.dm_channels.get((message.team_id, message.user_id or ""))
        try:
            if message.kind == steps.STEP_RESULT:
                return self._end_step(client, message, claim)
            channel_id = self._target_channel(client, message, known, claim)
            ts = None
            # An ephemeral message leaves no history to look in: a retry may repeat it.
            if message.attempts > 1 and message.kind != "ephemeral":
                self._before_call(claim, message)
                ts = self._find_earlier_post(client, message, channel_id)
            if ts is None:
                self._before_call(claim, message)
                ts, channel_id = self._post(client, message, channel_id)
            learned = channel_id if message.kind == "dm" and channel_id != known else None
            claim.posted.append(Posted(message, channel_id, ts, learned))
            if learned and message.user_id:
                claim.dm_channels[(message.team_id, message.user_id)] = learned
        except SlackApiError as error:
            code = str(error.response.get("error") or "")
            status = error.response.status_code
            if status == 429 or status >= 500 or code in TRANSIENT_ERRORS:
                wait = retry_after(error.response.headers) if status == 429 else None
                return self._retry_later(message, claim, code or f"http_{status}", wait)
            if (
                message.kind == "channel_post"
                and code in CHANNEL_UNREACHABLE
                and message.response_url
            ):
                return self._post_via_response_url(message, claim, code)
            return self._fail(message, claim, code or f"http_{status}")
        except (SlackClientError, OSError) as error:
            return self._retry_later(message, claim, type(error).__name__)
        return Delivery(message.id, "sent", channel_id)

    def _end_step(self, client: WebClient, message: OutboxMessage, claim: Claim) -> Delivery:
        """Complete (or fail) a step's run, with the run's own token. A retry after a
        sender died between the call and its mark finds the run ended: that is its
        ending, sent once."""
        token = steps.token_of(self.db, message.team_id, message.channel_id)
        if token is None:
            return self._fail(message, claim, "no_function_token")
        run = WebClient(
            token=token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=client.retry_handlers,
        )
        payload: dict[str, Any] = dict(message.payload)
        self._before_call(claim, message)
        try:
            if "error" in payload:
                run.functions_completeError(
                    function_execution_id=message.channel_id, error=payload["error"]
                )
            else:
                run.functions_completeSuccess(
                    function_execution_id=message.channel_id, outputs=payload.get("outputs") or {}
                )
        except SlackApiError as error:
            if message.attempts <= 1 or error.response.get("error") not in steps.ALREADY_ENDED:
                raise
            log.info("outbox %s: the run was ended by an earlier attempt", message.id)
        claim.posted.append(Posted(message, message.channel_id, None, None))
        return Delivery(message.id, "sent", message.channel_id)

    def _before_call(self, claim: Claim, message: OutboxMessage) -> None:
        """Make sure the claim outlasts the next Web API call, or stop: ClaimLost."""
        self._keep(claim, CALL_BUDGET)
        if message.id not in claim.held:
            raise ClaimLost(message.id)

    def _target_channel(
        self, client: WebClient, message: OutboxMessage, known: str | None, claim: Claim
    ) -> str:
        """Where to post. A DM goes to the DM's own channel when it is known. Otherwise a
        first attempt posts to the person's user id: Slack opens the DM and answers with its
        channel, which is kept. A later attempt must search that DM's history for an earlier
        post first, so it opens the DM (conversations.open, more tightly rate limited)."""
        if message.kind != "dm":
            return message.channel_id
        if known:
            return known
        if message.attempts <= 1:
            return message.user_id or message.channel_id
        self._before_call(claim, message)
        opened = client.conversations_open(users=message.user_id)
        return str(opened["channel"]["id"])

    def _post(self, client: WebClient, message: OutboxMessage, channel_id: str) -> tuple[str, str]:
        """Post the message; returns its ts and the channel it landed in (a DM's own channel
        when posted to a user id)."""
        payload: dict[str, Any] = dict(message.payload)
        if message.kind == "ephemeral":
            answer = client.chat_postEphemeral(
                channel=channel_id,
                user=message.user_id or "",
                text=payload.get("text", ""),
                blocks=payload.get("blocks"),
            )
            return str(answer.get("message_ts") or ""), channel_id
        response = client.chat_postMessage(
            channel=channel_id,
            text=payload.get("text", ""),
            blocks=payload.get("blocks"),
            thread_ts=payload.get("thread_ts"),
            reply_broadcast=payload.get("reply_broadcast"),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"key": message.dedupe_key}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"]), str(response.get("channel") or channel_id)

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

    def _post_via_response_url(self, message: OutboxMessage, claim: Claim, why: str) -> Delivery:
        assert message.response_url
        self._before_call(claim, message)
        payload = dict(message.payload)
        response = WebhookClient(message.response_url, timeout=10).send(
            text=payload.get("text", ""),
            blocks=payload.get("blocks"),
            response_type="in_channel",
            replace_original=False,
        )
        if response.status_code == 200:
            claim.posted.append(Posted(message, message.channel_id, None, None))
            return Delivery(message.id, "sent", message.channel_id, via_response_url=True)
        log.warning("response_url post failed: %s %s", response.status_code, response.body)
        return self._fail(message, claim, why)

    def _mark_posted(self, claim: Claim) -> dict[int, Delivery]:
        """Record what reached Slack as sent, in one transaction, and send the follow-ups
        some messages need. A DM whose channel was just learned keeps
        that channel on the person: later DMs go straight to it. Returns the messages that
        were posted but that another sender holds now: it finds each post by its key."""
        if not claim.posted:
            return {}
        marking, claim.posted = claim.posted, []
        lost: dict[int, Delivery] = {}
        now = self.clock()
        # Lost in a power cut, the marks are made again by the next sender, which finds
        # each post by its key (its claim, which counted the attempt, is durable). Each mark
        # stands on its own, unless what it leads to must be written with it: a step's
        # ending, or a DM channel learned.
        follows = any(
            sent.message.kind == steps.STEP_RESULT or sent.dm_channel_id for sent in marking
        )
        with (
            self.db.begin(durable=False) if follows else self.db.alone(durable=False)
        ) as connection:
            for sent in marking:
                marked = connection.execute(
                    _MARK_SENT,
                    {
                        "message": sent.message.id,
                        "held_by": claim.token,
                        "sent_now": now,
                        "posted_ts": sent.ts,
                        "posted_in": sent.channel_id,
                    },
                )
                if not _rowcount(marked):
                    log.warning("outbox %s: posted, but another sender holds it", sent.message.id)
                    lost[sent.message.id] = Delivery(
                        sent.message.id, "sent", sent.channel_id, error="claim_lost"
                    )
                elif sent.message.kind == steps.STEP_RESULT:
                    steps.ended(connection, sent.message, now, sent=True)
                elif sent.dm_channel_id and sent.message.user_id:
                    connection.execute(
                        update(Person)
                        .where(
                            Person.team_id == sent.message.team_id,
                            Person.user_id == sent.message.user_id,
                        )
                        .values(dm_channel_id=sent.dm_channel_id)
                        .execution_options(synchronize_session=False)
                    )
        for sent in marking:
            if sent.message.id not in lost:
                metrics.outbox_send("sent")
                if self.on_sent is not None:
                    self.deliver(self.on_sent(self.db, sent.message, sent.ts, now))
        return lost

    def _retry_later(
        self, message: OutboxMessage, claim: Claim, error: str, wait: int | None = None
    ) -> Delivery:
        if message.attempts >= MAX_ATTEMPTS:
            return self._fail(message, claim, error)
        delay = timedelta(seconds=max(min(5 * 2 ** (message.attempts - 1), 1800), wait or 0))
        log.warning(
            "outbox %s (%s) will retry in %s: %s", message.id, message.dedupe_key, delay, error
        )
        with self.db.transaction() as session:
            marked = session.execute(
                update(OutboxMessage)
                .where(*_held_by(message, claim))
                .values(
                    claimed_until=None,
                    claim_token=None,
                    next_attempt_at=self.clock() + delay,
                    last_error=error[:255],
                )
                .execution_options(synchronize_session=False)
            )
        if not _rowcount(marked):
            return Delivery(message.id, "pending", error="claim_lost")
        metrics.outbox_send("retry")
        return Delivery(message.id, "pending", error=error)

    def _fail(self, message: OutboxMessage, claim: Claim, error: str) -> Delivery:
        with self.db.transaction() as session:
            marked = session.execute(
                update(OutboxMessage)
                .where(*_held_by(message, claim))
                .values(
                    status="failed", claimed_until=None, claim_token=None, last_error=error[:255]
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(marked) and message.kind == steps.STEP_RESULT:
                # Never sent: the run's token has no use left.
                steps.ended(session.connection(), message, self.clock(), sent=False)
        if not _rowcount(marked):
            # Another sender holds it: its outcome is the one that counts.
            return Delivery(message.id, "pending", error="claim_lost")
        log.warning("outbox %s (%s) failed for good: %s", message.id, message.dedupe_key, error)
        metrics.outbox_send("failed")
        return Delivery(message.id, "failed", message.channel_id, error=error)


# Built once: every message sent is marked by it.
_MARK_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("message"),
        OutboxMessage.claim_token == bindparam("held_by"),
        OutboxMessage.status == "pending",
    )
    .values(
        status="sent",
        sent_at=bindparam("sent_now"),
        sent_ts=bindparam("posted_ts"),
        sent_channel_id=bindparam("posted_in"),
        claimed_until=None,
        claim_token=None,
        last_error=None,
    )
    .execution_options(synchronize_session=False)
)


def _held_by(message: OutboxMessage, claim: Claim) -> list[ColumnElement[bool]]:
    """The message's row, as long as this claim still holds it."""
    return [
        OutboxMessage.id == message.id,
        OutboxMessage.claim_token == claim.token,
        OutboxMessage.status == "pending",
    ]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def served_messages(owner: TokenOwner | None) -> list[ColumnElement[bool]]:
    """Token mode: only the messages of the token's own workspace are ever picked up."""
    if owner is None:
        return []
    if owner.org_wide:
        return [OutboxMessage.enterprise_id == owner.enterprise_id]
    return [OutboxMessage.team_id == owner.team_id]


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    """Due, still pending, and not held by a live claim."""
    return [
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    ]
