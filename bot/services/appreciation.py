"""Appreciation: the rules for giving it, recording it, and counting it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from bot.blocks import appreciation as render
from bot.domain import Appreciated, PersonInfo, Workspace
from bot.errors import UserError
from bot.services import outbox, people
from bot.store import queries
from bot.store.db import Database
from bot.store.models import Appreciation, AppreciationRecipient, Ask

MAX_RECIPIENTS = 10
MAX_REASON = 1000

_LEADING_MENTION = re.compile(r"\s*(?:(?:,|&amp;|and)\s*)?<([@!][^<>]*)>")
_PERSON_ID = re.compile(r"@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?")
_VALUE_TAG = re.compile(r"(?<![^\s(])#([A-Za-z][\w-]*)")
_SLACK_TOKEN = re.compile(r"(<[^<>]*>)")


@dataclass(frozen=True)
class ParsedText:
    recipient_ids: list[str]
    reason: str
    values: list[str]


@dataclass
class Draft:
    """An appreciation as the giver asked for it, before the rules are applied."""

    giver_id: str
    recipient_ids: list[str]
    reason: str
    values: list[str] = field(default_factory=list)
    is_private: bool = False
    # Its words come from a private conversation: counted, but never quoted elsewhere.
    said_in_private: bool = False
    channel_id: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    message_permalink: str | None = None
    ask_id: int | None = None
    # Posted in the ask's thread: also shown in the channel (Slack's reply_broadcast).
    broadcast: bool = False
    source_key: str = ""
    # False: the caller sends the messages itself (appreciation by reaction).
    notify: bool = True


@dataclass(frozen=True)
class Recorded:
    appreciation_id: int
    outbox_ids: list[int]
    duplicate: bool = False
    # The messages it owes, claimed by this process to send at once (`record(send_now=True)`).
    claim: outbox.Claim | None = None


def parse_command_text(text: str, known_values: Sequence[str]) -> ParsedText:
    """Split `/appreciate` text into the people at its start, the reason and `#values`.

    Mentions arrive escaped (`<@U123>` or `<@U123|name>`). Raises UserError for group or
    broadcast mentions, a missing person, or an unknown `#value` when values are configured.
    """
    recipients: list[str] = []
    rest = text
    while match := _LEADING_MENTION.match(rest):
        inner = match.group(1)
        person = _PERSON_ID.fullmatch(inner)
        if person is None:
            raise UserError(
                "Appreciation goes to people, not to groups or whole channels. "
                "Name each person with @, for example `/appreciate @ana @ben for the launch`."
            )
        if person.group(1) not in recipients:
            recipients.append(person.group(1))
        rest = rest[match.end() :]
    if not recipients:
        raise UserError(
            "Who would you like to appreciate? Start with their @name, for example "
            "`/appreciate @ana for untangling the invoice`."
        )
    values: list[str] = []
    if known_values:
        # Tags are read only outside Slack's <...> tokens (channels, links).
        pieces = _SLACK_TOKEN.split(rest)
        for i in range(0, len(pieces), 2):
            for tag in _VALUE_TAG.findall(pieces[i]):
                value = company_value(tag, known_values)
                if value not in values:
                    values.append(value)
            pieces[i] = _VALUE_TAG.sub("", pieces[i])
        rest = "".join(pieces)
    reason = re.sub(r"\s+", " ", rest).strip()
    return ParsedText(recipient_ids=recipients, reason=reason, values=values)


def company_value(tag: str, known_values: Sequence[str]) -> str:
    """The company value `tag` names (`#Craft` or `craft`). Raises UserError when it is
    not one of the workspace's values."""
    tag = tag.strip().removeprefix("#")
    value = tag.lower()
    if value not in known_values:
        listed = ", ".join(f"#{v}" for v in known_values)
        raise UserError(f"#{tag} isn't one of your company values ({listed}).")
    return value


def check_draft(draft: Draft, giver: PersonInfo | None = None) -> None:
    """The rules that need nothing but the draft itself. Raises UserError."""
    if not draft.recipient_ids:
        raise UserError("Choose at least one person to appreciate.", field="recipients")
    if draft.giver_id in draft.recipient_ids:
        raise UserError(
            "Appreciating yourself is a good habit, but this space is for thanking others. "
            "Who helped you lately?",
            field="recipients",
        )
    if len(draft.recipient_ids) > MAX_RECIPIENTS:
        raise UserError(
            f"That's {len(draft.recipient_ids)} people; appreciation lands best with at most "
            f"{MAX_RECIPIENTS} at a time.",
            field="recipients",
        )
    if not draft.reason.strip():
        raise UserError(
            "Say what they did: specific thanks mean far more. "
            "For example `/appreciate @ana for staying late to fix the export`.",
            field="reason",
        )
    if len(draft.reason) > MAX_REASON:
        raise UserError(
            f"Your reason is {len(draft.reason):,} characters; please keep it under "
            f"{MAX_REASON:,}.",
            field="reason",
        )


def check_recipients(recipients: Sequence[PersonInfo | None], ids: Sequence[str]) -> None:
    """Refuse bots, deactivated and unknown people; `recipients[i]` answers for `ids[i]`."""
    for user_id, person in zip(ids, recipients, strict=True):
        if person is None:
            raise UserError(f"I couldn't find <@{user_id}> in this workspace.", field="recipients")
        if person.is_bot:
            raise UserError(
                f"<@{user_id}> is a bot. Appreciation is for the people behind the work.",
                field="recipients",
            )
        if person.deleted:
            raise UserError(f"<@{user_id}> is no longer active here.", field="recipients")


def start_of_local_day(now: datetime, person: PersonInfo, fallback_tz: str) -> datetime:
    local = now.astimezone(person.zone(fallback_tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def record(
    db: Database,
    workspace: Workspace,
    draft: Draft,
    giver: PersonInfo,
    now: datetime,
    *,
    daily_limit: int,
    fallback_tz: str = "UTC",
    send_now: bool = False,
) -> Recorded:
    """Record the appreciation, the messages it owes and that its people used the app, in
    one transaction. With `send_now`, the messages are recorded claimed by this process,
    which sends them right after (`OutboxSender.deliver_claimed`).

    A second call with the same `draft.source_key` records nothing and answers
    `duplicate=True`. Raises UserError when the giver is past the daily limit.
    """
    with db.transaction() as session:
        appreciation_id = session.scalar(
            queries.new_appreciation(session),
            {
                "team_id": workspace.team_id,
                "enterprise_id": workspace.enterprise_id,
                "giver_id": draft.giver_id,
                "reason": draft.reason,
                "company_values": list(draft.values),
                "is_private": draft.is_private,
                "said_in_private": draft.said_in_private,
                "channel_id": draft.channel_id,
                "message_ts": draft.message_ts,
                "message_permalink": draft.message_permalink,
                "ask_id": draft.ask_id,
                "source_key": draft.source_key,
                "created_at": now,
            },
        )
        if appreciation_id is None:  # its key is taken: recorded before
            existing = session.scalar(
                _RECORDED, {"team": workspace.team_id, "key": draft.source_key}
            )
            if existing is None:
                raise RuntimeError(f"appreciation {draft.source_key!r} neither recorded nor found")
            return Recorded(existing, [], duplicate=True)
        since = start_of_local_day(now, giver, fallback_tz)
        if not queries.take_daily_giving(session, workspace, draft.giver_id, since, daily_limit):
            tomorrow = since + timedelta(days=1)
            raise UserError(
                f"You've given {daily_limit} appreciations today, the most one person can "
                f"give in a day. Thank you for being generous! You can give more after "
                f"midnight your time ({tomorrow:%A})."
            )
        session.execute(
            _RECIPIENT,
            [
                {
                    "team_id": workspace.team_id,
                    "enterprise_id": workspace.enterprise_id,
                    "appreciation_id": appreciation_id,
                    "user_id": uid,
                    "giver_id": draft.giver_id,
                    "is_private": draft.is_private,
                    "created_at": now,
                }
                for uid in draft.recipient_ids
            ],
        )
        queries.tally_for_recap(session, workspace, draft.giver_id, draft.recipient_ids, now)
        if not draft.is_private:
            queries.count_public_appreciation(
                session, workspace, draft.giver_id, draft.recipient_ids, now
            )
        people.mark_used_in(session, workspace, [draft.giver_id, *draft.recipient_ids], now)
        ask = _thanked_ask(session, workspace, draft, now)
        said = Appreciated(
            giver_id=draft.giver_id,
            recipient_ids=tuple(draft.recipient_ids),
            reason=draft.reason,
            company_values=tuple(draft.values),
            is_private=draft.is_private,
            message_permalink=draft.message_permalink,
        )
        messages = []
        if not draft.is_private and draft.channel_id:
            post = render.channel_message(said, ask)
            if ask is not None and ask.thread_ts and ask.channel_id == draft.channel_id:
                post = {**post, "thread_ts": ask.thread_ts, "reply_broadcast": draft.broadcast}
            messages.append(
                outbox.channel_post(
                    workspace,
                    key=f"appreciation:{appreciation_id}:post",
                    channel_id=draft.channel_id,
                    message=post,
                    response_url=draft.response_url,
                    appreciation_id=appreciation_id,
                    now=now,
                )
            )
        for uid in draft.recipient_ids if draft.notify else ():
            messages.append(
                outbox.direct_message(
                    workspace,
                    key=f"appreciation:{appreciation_id}:dm:{uid}",
                    user_id=uid,
                    message=render.recipient_dm(said, ask),
                    appreciation_id=appreciation_id,
                    now=now,
                )
            )
        if send_now:
            claim = outbox.add_claimed(session, messages, now)
            return Recorded(appreciation_id, [m.id for m in messages], claim=claim)
        session.add_all(messages)
        session.flush()
        return Recorded(appreciation_id, [m.id for m in messages])


# Built once: every appreciation recorded runs them.
_RECORDED = select(Appreciation.id).where(
    Appreciation.team_id == bindparam("team"), Appreciation.source_key == bindparam("key")
)
_RECIPIENT = insert(cast(Table, AppreciationRecipient.__table__))


def _thanked_ask(session: Session, workspace: Workspace, draft: Draft, now: datetime) -> Ask | None:
    """The ask this appreciation closes, marked thanked (by its asker, for its helper)."""
    if draft.ask_id is None:
        return None
    ask = session.scalar(
        select(Ask).where(Ask.team_id == workspace.team_id, Ask.id == draft.ask_id)
    )
    if ask is None:
        return None
    closes = draft.giver_id == ask.asker_id and ask.helper_id in draft.recipient_ids
    if closes and ask.thanked_at is None:
        ask.thanked_at = now
    return ask


def get(db: Database, workspace: Workspace, appreciation_id: int) -> Appreciation | None:
    with db.transaction() as session:
        return session.scalar(
            select(Appreciation).where(
                Appreciation.team_id == workspace.team_id, Appreciation.id == appreciation_id
            )
        )


PERIODS = ("week", "month", "all")
RECENT = 5


def period_start(period: str, now: datetime, zone_name: str) -> datetime | None:
    """Start of this week (Monday) or month in `zone_name`, or None for all time."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(zone_name)).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return local - timedelta(days=local.weekday())
    if period == "month":
        return local.replace(day=1)
    return None


@dataclass(frozen=True)
class PersonStats:
    received: dict[str, int]
    given: dict[str, int]
    recent: list[Appreciation] = field(default_factory=list)


def stats(
    db: Database,
    workspace: Workspace,
    user_id: str,
    now: datetime,
    zone: str,
    *,
    viewer: str,
) -> PersonStats:
    """How much appreciation one person received and gave, this week, this month, all time,
    as `viewer` may know it: a person sees their own private appreciation, nobody else's."""
    own = viewer == user_id
    with db.transaction() as session:
        received = {
            p: queries.count_received(
                session, workspace, user_id, period_start(p, now, zone), private=own
            )
            for p in PERIODS
        }
        given = {
            p: queries.count_given(
                session, workspace, user_id, period_start(p, now, zone), private=own
            )
            for p in PERIODS
        }
        recent = queries.recent_received(session, workspace, user_id, RECENT)
    return PersonStats(received=received, given=given, recent=recent)


def top(
    db: Database, workspace: Workspace, period: str, now: datetime, zone: str, limit: int = 10
) -> list[queries.Standing]:
    """The most appreciated people in a period: by appreciation received, then distinct givers."""
    with db.transaction() as session:
        return queries.leaderboard(session, workspace, period_start(period, now, zone), limit)


@dataclass(frozen=True)
class Given:
    """An appreciation given: as recorded, and how its messages went (none when it was
    recorded before)."""

    recorded: Recorded
    deliveries: list[outbox.Delivery]


def give_and_deliver(
    db: Database,
    workspace: Workspace,
    draft: Draft,
    now: datetime,
    *,
    lookup: Callable[[str], PersonInfo | None],
    deliver: Callable[[outbox.Claim], list[outbox.Delivery]],
    daily_limit: int,
    fallback_tz: str,
) -> Given:
    """Check, record, deliver. `lookup` asks Slack about a person; `deliver` sends the
    outbox messages recorded claimed by this process. Raises UserError for anything
    refused; nothing is recorded then."""
    check_draft(draft)
    giver = lookup(draft.giver_id) or PersonInfo(user_id=draft.giver_id)
    check_recipients([lookup(uid) for uid in draft.recipient_ids], draft.recipient_ids)
    recorded = record(
        db,
        workspace,
        draft,
        giver,
        now,
        daily_limit=daily_limit,
        fallback_tz=fallback_tz,
        send_now=True,
    )
    if recorded.duplicate or recorded.claim is None:
        return Given(recorded, [])
    return Given(recorded, deliver(recorded.claim))


def give(
    db: Database,
    workspace: Workspace,
    draft: Draft,
    now: datetime,
    *,
    lookup: Callable[[str], PersonInfo | None],
    deliver: Callable[[outbox.Claim], list[outbox.Delivery]],
    daily_limit: int,
    fallback_tz: str,
) -> str:
    """The whole use case: check, record, deliver, and say what happened to the giver.
    Raises UserError for anything refused; nothing is recorded then."""
    given = give_and_deliver(
        db,
        workspace,
        draft,
        now,
        lookup=lookup,
        deliver=deliver,
        daily_limit=daily_limit,
        fallback_tz=fallback_tz,
    )
    recorded, deliveries = given.recorded, given.deliveries
    if recorded.duplicate or recorded.claim is None:
        return "That appreciation is already recorded; nothing was sent twice."
    by_kind = {d.id: d for d in deliveries}
    post = (
        by_kind.get(recorded.outbox_ids[0]) if draft.channel_id and not draft.is_private else None
    )
    posted_in = post.channel_id if post and post.status == "sent" else None
    problem = None
    if post and post.status == "failed":
        problem = post_problem(post.error, draft.channel_id)
    return render.recorded_summary(
        draft.recipient_ids,
        posted_in=posted_in,
        post_problem=problem,
        pending=any(d.status == "pending" for d in deliveries),
        is_private=draft.is_private,
    )


def post_problem(error: str | None, channel_id: str | None) -> str:
    """Why a public post did not happen, in words a person can act on."""
    where = f"<#{channel_id}>" if channel_id else "that channel"
    if error == "not_in_channel" or error == "channel_not_found":
        return (
            f"I couldn't post in {where}: I'm not a member there. "
            "Add me with `/invite @Advocate` to share appreciation in it."
        )
    if error == "is_archived":
        return f"I couldn't post in {where}: it is archived."
    return f"I couldn't post in {where} ({error})."
