"""Appreciation by emoji reaction: one per message and giver, withdrawn within 10 minutes.

Slack may deliver `reaction_added` twice, and people add, remove and add again. Each
message and giver has one `ReactionThanks` row; only the request that moves it to `pending`
(a compare-and-set) records the appreciation, so whatever arrives counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.domain import PersonInfo, Workspace
from bot.services import insight_tallies
from bot.store import queries
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import Appreciation, AppreciationRecipient, DailyGiving, ReactionThanks

WITHDRAW_WINDOW = timedelta(minutes=10)
# Rows in these states may be (re)counted by a new reaction.
_RECOUNTABLE = ("withdrawn", "refused")


@dataclass(frozen=True)
class Reaction:
    channel_id: str
    message_ts: str
    giver_id: str
    author_id: str
    reaction: str

    @property
    def source_key(self) -> str:
        return f"reaction:{self.channel_id}:{self.message_ts}:{self.giver_id}"


def base_name(reaction: str) -> str:
    """`raised_hands::skin-tone-3` -> `raised_hands`: every skin tone is the same emoji."""
    return reaction.split("::", 1)[0]


def claim(db: Database, workspace: Workspace, reaction: Reaction, now: datetime) -> bool:
    """Take the message and giver's row to count it now; False when it is already counted
    (a redelivery, another emoji) or being counted by another request."""
    team = workspace.team_id
    with db.transaction() as session:
        inserted = insert_ignoring_conflicts(
            session,
            ReactionThanks,
            [
                {
                    "team_id": team,
                    "enterprise_id": workspace.enterprise_id,
                    "channel_id": reaction.channel_id,
                    "message_ts": reaction.message_ts,
                    "giver_id": reaction.giver_id,
                    "author_id": reaction.author_id,
                    "reaction": reaction.reaction,
                    "status": "pending",
                    "appreciation_id": None,
                    "created_at": now,
                    "counted_at": None,
                    "withdrawn_at": None,
                }
            ],
            ["team_id", "channel_id", "message_ts", "giver_id"],
        )
        if inserted:
            return True
        again = session.execute(
            update(ReactionThanks)
            .where(*_row(workspace, reaction), ReactionThanks.status.in_(_RECOUNTABLE))
            .values(status="pending", reaction=reaction.reaction, withdrawn_at=None)
            .execution_options(synchronize_session=False)
        )
        return getattr(again, "rowcount", 0) == 1


def pending(db: Database, workspace: Workspace, reaction: Reaction) -> bool:
    """Whether the row is still being counted: a request retried after a crash finishes
    what the first attempt claimed."""
    row = get(db, workspace, reaction)
    return row is not None and row.status == "pending"


def settle(
    db: Database,
    workspace: Workspace,
    reaction: Reaction,
    status: str,
    now: datetime,
    appreciation_id: int | None = None,
) -> bool:
    """The claimed row's outcome: counted (with its appreciation) or refused. False when
    the reaction was removed meanwhile (the row is withdrawn): the outcome is not kept."""
    with db.transaction() as session:
        result = session.execute(
            update(ReactionThanks)
            .where(*_row(workspace, reaction), ReactionThanks.status == "pending")
            .values(
                status=status,
                appreciation_id=appreciation_id,
                counted_at=now if status == "counted" else None,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1


def withdraw(
    db: Database,
    workspace: Workspace,
    reaction: Reaction,
    giver: PersonInfo | None,
    now: datetime,
    fallback_tz: str,
) -> bool:
    """The reaction was removed: within `WITHDRAW_WINDOW` of counting, the appreciation is
    deleted and every count it made taken back; later it stays. One still being counted is
    withdrawn too: its count, when it comes, is taken back (`settle` says so). True when
    withdrawn."""
    with db.transaction() as session:
        row = session.scalar(
            select(ReactionThanks)
            .where(
                *_row(workspace, reaction),
                ReactionThanks.reaction == reaction.reaction,
                or_(
                    ReactionThanks.status == "pending",
                    (ReactionThanks.status == "counted")
                    & (ReactionThanks.counted_at > now - WITHDRAW_WINDOW),
                ),
            )
            .with_for_update()
        )
        if row is None:
            return False
        appreciation_id = row.appreciation_id
        row.status = "withdrawn"
        row.withdrawn_at = now
        row.appreciation_id = None
        _take_back(session, workspace, reaction, appreciation_id, giver, fallback_tz)
        return True


def take_back(
    db: Database,
    workspace: Workspace,
    reaction: Reaction,
    appreciation_id: int,
    giver: PersonInfo | None,
    fallback_tz: str,
) -> None:
    """Delete an appreciation by reaction recorded after its reaction was removed."""
    with db.transaction() as session:
        _take_back(session, workspace, reaction, appreciation_id, giver, fallback_tz)


def _take_back(
    session: Session,
    workspace: Workspace,
    reaction: Reaction,
    appreciation_id: int | None,
    giver: PersonInfo | None,
    fallback_tz: str,
) -> None:
    """Delete the appreciation and every count it made."""
    if appreciation_id is None:
        return
    appreciation = session.scalar(
        select(Appreciation).where(
            Appreciation.team_id == workspace.team_id, Appreciation.id == appreciation_id
        )
    )
    if appreciation is None:
        return
    recipients = appreciation.recipient_ids
    given_by = appreciation.giver_id
    zone = (giver or PersonInfo(reaction.giver_id)).zone(fallback_tz)
    day = appreciation.created_at.astimezone(zone).date()
    session.execute(
        update(DailyGiving)
        .where(
            DailyGiving.team_id == workspace.team_id,
            DailyGiving.giver_id == reaction.giver_id,
            DailyGiving.day == day,
            DailyGiving.given > 0,
        )
        .values(given=DailyGiving.given - 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(AppreciationRecipient).where(
            AppreciationRecipient.team_id == workspace.team_id,
            AppreciationRecipient.appreciation_id == appreciation.id,
        )
    )
    session.execute(
        delete(Appreciation).where(
            Appreciation.team_id == workspace.team_id, Appreciation.id == appreciation.id
        )
    )
    session.flush()
    queries.recount_all_time(session, workspace, recipients)
    queries.recount_recap_tallies(session, workspace, [given_by, *recipients])
    insight_tallies.invalidate(session, workspace, [appreciation.created_at])


def get(db: Database, workspace: Workspace, reaction: Reaction) -> ReactionThanks | None:
    with db.transaction() as session:
        return session.scalar(select(ReactionThanks).where(*_row(workspace, reaction)))


def givers_of(db: Database, workspace: Workspace, channel_id: str, message_ts: str) -> list[str]:
    """Who appreciates this message by reaction now, in the order they did."""
    with db.transaction() as session:
        return list(
            session.scalars(
                select(ReactionThanks.giver_id)
                .where(
                    ReactionThanks.team_id == workspace.team_id,
                    ReactionThanks.channel_id == channel_id,
                    ReactionThanks.message_ts == message_ts,
                    ReactionThanks.status == "counted",
                )
                .order_by(ReactionThanks.counted_at, ReactionThanks.id)
            )
        )


def _row(workspace: Workspace, reaction: Reaction) -> list[ColumnElement[bool]]:
    return [
        ReactionThanks.team_id == workspace.team_id,
        ReactionThanks.channel_id == reaction.channel_id,
        ReactionThanks.message_ts == reaction.message_ts,
        ReactionThanks.giver_id == reaction.giver_id,
    ]
