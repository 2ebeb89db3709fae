"""Messages the app owes Slack, decided in the database before anything is sent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from bot import holders
from bot.clock import system_clock
from bot.domain import Workspace
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import OutboxMessage, Person

# How long a sender holds the messages it claimed; a sender that stops renewing (it died)
# loses them when this ends, or at once when it ran on the same machine.
LEASE = timedelta(seconds=60)

_COLUMNS = [c for c in OutboxMessage.__table__.columns if c.key != "id"]


def enqueue(db: Database, workspace: Workspace, messages: list[OutboxMessage]) -> list[int]:
    """Queue messages by their keys (a repeat is ignored); returns the ids still to send."""
    rows = [{c.key: getattr(m, c.key) for c in _COLUMNS} for m in messages]
    keys = [m.dedupe_key for m in messages]
    with db.transaction() as session:
        insert_ignoring_conflicts(session, OutboxMessage, rows, ["team_id", "dedupe_key"])
        found = session.execute(
            select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
                OutboxMessage.team_id == workspace.team_id,
                OutboxMessage.dedupe_key.in_(keys),
                OutboxMessage.status == "pending",
            )
        ).all()
    order = {key: n for n, key in enumerate(keys)}
    return [row[0] for row in sorted(found, key=lambda r: order[r[1]])]


def find(db: Database, workspace: Workspace, key: str) -> OutboxMessage | None:
    """The workspace's message queued under `key`, whatever its state."""
    with db.transaction() as session:
        return session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.team_id == workspace.team_id, OutboxMessage.dedupe_key == key
            )
        )


def rewrite(db: Database, message_id: int, payload: dict[str, Any]) -> None:
    """Change what a queued message says (a pending one sends the new words; a sent one's
    record follows the edit made in Slack)."""
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(payload=payload)
            .execution_options(synchronize_session=False)
        )


def drop_unsent(db: Database, message_id: int) -> None:
    """Forget a message that is not sent yet; one already sent stays."""
    with db.transaction() as session:
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.status == "pending"
            )
        )


@dataclass(frozen=True)
class Delivery:
    """The outcome for one outbox message."""

    id: int
    status: str  # sent | failed | pending
    channel_id: str | None = None
    error: str | None = None
    via_response_url: bool = False


@dataclass(frozen=True)
class Posted:
    """A message that reached Slack, not yet marked sent."""

    message: OutboxMessage
    channel_id: str
    ts: str | None
    dm_channel_id: str | None  # a DM channel just learned


@dataclass
class Claim:
    """Messages one sender holds until `until` under its `token`, and the DM channels
    already known for their people."""

    token: str
    until: datetime
    held: dict[int, OutboxMessage]
    others: dict[int, Delivery] = field(default_factory=dict)  # not claimable: where they stand
    dm_channels: dict[tuple[str, str], str] = field(default_factory=dict)
    # In Slack and still held, until they are marked sent together.
    posted: list[Posted] = field(default_factory=list)

    @classmethod
    def new(cls, now: datetime) -> Claim:
        return cls(token=secrets.token_hex(8), until=now + LEASE, held={})

    def stamp(self) -> dict[str, Any]:
        """The columns that make a row held by this claim."""
        return {
            "claimed_until": self.until,
            "claim_token": self.token,
            "claimed_by": holders.me(),
        }


def add_claimed(session: Session, messages: list[OutboxMessage], now: datetime) -> Claim:
    """Add `messages` to the transaction that decided them, already claimed by this
    process: whoever records them sends them right after, with no second trip to claim
    them. Were it to die first, they are free again (bot/holders.py), or when the lease
    ends. One statement inserts them all; the objects given get their ids."""
    claim = Claim.new(now)
    for message in messages:
        for column, value in claim.stamp().items():
            setattr(message, column, value)
        message.attempts = 1
    if messages:
        rows = [{c.key: getattr(m, c.key) for c in _COLUMNS} for m in messages]
        ids = {(team, key): message_id for message_id, team, key in session.execute(_ADD, rows)}
        for message in messages:
            message.id = ids[(message.team_id, message.dedupe_key)]
    claim.held = {m.id: m for m in messages}
    claim.dm_channels = known_dm_channels(session, messages)
    return claim


_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]
# Built once. Each row's id comes back with its key: asking for them in the order given
# would insert the rows one statement each.
_ADD = insert(_TABLE).returning(_TABLE.c.id, _TABLE.c.team_id, _TABLE.c.dedupe_key)


def known_dm_channels(
    session: Session, messages: list[OutboxMessage]
) -> dict[tuple[str, str], str]:
    """The DM channels already known for the people these messages are DMs to."""
    people = {(m.team_id, m.user_id) for m in messages if m.kind == "dm" and m.user_id}
    if not people:
        return {}
    rows = session.execute(
        _DM_CHANNELS,
        {"teams": sorted({team for team, _ in people}), "people": sorted({u for _, u in people})},
    )
    return {(team, user): str(dm) for team, user, dm in rows if (team, user) in people}


_DM_CHANNELS = select(Person.team_id, Person.user_id, Person.dm_channel_id).where(
    Person.team_id.in_(bindparam("teams", expanding=True)),
    Person.user_id.in_(bindparam("people", expanding=True)),
    Person.dm_channel_id.is_not(None),
)


def channel_post(
    workspace: Workspace,
    *,
    key: str,
    channel_id: str,
    message: dict[str, Any],
    now: datetime,
    response_url: str | None = None,
    appreciation_id: int | None = None,
) -> OutboxMessage:
    """A public post in a channel; `response_url` reaches a channel the app is not in."""
    return _message(
        workspace,
        "channel_post",
        key,
        channel_id,
        None,
        message,
        now,
        response_url=response_url,
        appreciation_id=appreciation_id,
    )


def ephemeral(
    workspace: Workspace,
    *,
    key: str,
    channel_id: str,
    user_id: str,
    message: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    """A message only `user_id` sees, in `channel_id`."""
    return _message(workspace, "ephemeral", key, channel_id, user_id, message, now)


def direct_message(
    workspace: Workspace,
    *,
    key: str,
    user_id: str,
    message: dict[str, Any],
    now: datetime,
    appreciation_id: int | None = None,
) -> OutboxMessage:
    """A DM from the app to one person."""
    return OutboxMessage(
        **direct_message_row(
            workspace,
            key=key,
            user_id=user_id,
            message=message,
            now=now,
            appreciation_id=appreciation_id,
        )
    )


def direct_message_row(
    workspace: Workspace,
    *,
    key: str,
    user_id: str,
    message: dict[str, Any],
    now: datetime,
    appreciation_id: int | None = None,
) -> dict[str, Any]:
    """`direct_message` as the column values of its row, for inserting thousands at once
    without building an ORM object for each."""
    return _row(
        workspace, "dm", key, user_id, user_id, message, now, appreciation_id=appreciation_id
    )


def _message(
    workspace: Workspace,
    kind: str,
    key: str,
    channel_id: str,
    user_id: str | None,
    message: dict[str, Any],
    now: datetime,
    *,
    response_url: str | None = None,
    appreciation_id: int | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        **_row(
            workspace,
            kind,
            key,
            channel_id,
            user_id,
            message,
            now,
            response_url=response_url,
            appreciation_id=appreciation_id,
        )
    )


def _row(
    workspace: Workspace,
    kind: str,
    key: str,
    channel_id: str,
    user_id: str | None,
    message: dict[str, Any],
    now: datetime,
    *,
    response_url: str | None = None,
    appreciation_id: int | None = None,
) -> dict[str, Any]:
    # A message decided for a later instant (`advocate tick --now` ahead of the clock) is
    # due at once and written now: when it is sent, and how far back Slack's history is
    # searched for an earlier post of it, go by the real clock.
    now = min(now, system_clock())
    # Every column but the id, so that rows inserted together all have the same keys.
    return {
        "team_id": workspace.team_id,
        "enterprise_id": workspace.enterprise_id,
        "dedupe_key": key,
        "kind": kind,
        "channel_id": channel_id,
        "user_id": user_id,
        "response_url": response_url,
        "payload": message,
        "appreciation_id": appreciation_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "claimed_until": None,
        "claim_token": None,
        "sent_at": None,
        "sent_channel_id": None,
        "sent_ts": None,
        "last_error": None,
        "created_at": now,
        "erased_at": None,
    }
