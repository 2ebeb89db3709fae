"""What a person's check-in brings up beside the usual questions: what colleagues told them
they need ("did you act on it?"), whether to ask their buy-in goal what they need, and one
person to thank.

Worked out for a chunk of people at once, in a fixed handful of queries however many people
the chunk holds, so that the weekly fan-out stays cheap for thousands. What a colleague said
they need is private: it goes into the asker's own check-in and nowhere else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services.digest import GHOST_PREFIX
from bot.services.schedule import shift_week
from bot.store.db import among, text_array
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    BuyInGoal,
    CheckinNudge,
    InstalledWorkspace,
    Listen,
    Person,
)

FOLLOWUPS_PER_CHECKIN = 2
# How far back a kept commitment or a buy-in goal makes someone worth thanking: far enough
# to catch what was missed, near enough that the queries read a few weeks of rows.
KEPT_LOOKBACK = timedelta(weeks=12)
GOAL_LOOKBACK_WEEKS = 8
# How far back the last thanks is looked for: past it, "not in over a year" is all a check-in
# says, and the query reads a year of the thanked people's appreciation, not all of it.
THANKS_LOOKBACK = timedelta(weeks=52)
# A buy-in goal asked with /listen this recently is not prompted to ask again.
LISTENED_LATELY = timedelta(days=7)
# The asks an Appreciate button links (the appreciation modal reads at most 10).
LINKED_ASKS = 10


@dataclass(frozen=True)
class Followup:
    """An answer to the person's /listen that they have not said they acted on."""

    listen_id: int
    colleague_id: str
    need: str


@dataclass(frozen=True)
class Nudge:
    """Someone to thank: they kept `kept` commitments for the person since the person last
    thanked them, or (`kept` 0) the person set them as a buy-in goal since."""

    user_id: str
    name: str
    kept: int
    ask_ids: tuple[int, ...]  # the latest of those commitments, for the Appreciate button
    days_since_thanks: int | None  # None: not in the last `THANKS_LOOKBACK`
    never_thanked: bool = False  # nor before: the app was not installed then


@dataclass(frozen=True)
class Extras:
    """One person's check-in additions; people without any get the shared message."""

    followups: tuple[Followup, ...] = ()
    nudge: Nudge | None = None
    # Last week's buy-in goal was not asked what they need lately: suggest /listen.
    suggest_listening: bool = False


def for_checkins(
    session: Session,
    workspace: Workspace,
    weeks: Mapping[str, str],
    last_goals: Mapping[str, BuyInGoal],
    now: datetime,
) -> dict[str, Extras]:
    """What each person's check-in adds, for the people in `weeks` (person -> the check-in's
    ISO week); `last_goals` holds their goals of the week before. People with nothing to add
    are left out. Reads in the caller's transaction: the one that queues the check-ins."""
    users = sorted(weeks)
    if not users:
        return {}
    team = workspace.team_id
    names: dict[str, str] = {}  # the people these rows name, by id
    answers, listened = _listens(session, team, users, now, names)
    kept = _kept_unthanked(session, team, users, now, names)
    goals = _goal_targets(session, team, weeks, names)
    thanked = _last_thanks(
        session,
        team,
        {(ask.asker_id, ask.helper_id) for ask in kept}
        | {(user, target) for user, by_user in goals.items() for target in by_user},
        now,
    )
    installed = session.scalar(
        select(InstalledWorkspace.installed_at).where(InstalledWorkspace.team_id == team)
    )
    whole_history = installed is not None and installed >= now - THANKS_LOOKBACK
    candidates = _candidates(kept, goals, thanked, names, now, whole_history)
    before = _nudged_before(session, team, {user: weeks[user] for user in candidates})
    followups = _followups(answers, weeks)

    extras: dict[str, Extras] = {}
    for user in users:
        goal = last_goals.get(user)
        mine = followups.get(user, ())
        nudge = choose(candidates.get(user, []), skip=before.get(user))
        suggest = (
            goal is not None
            and goal.target_user_id in goals.get(user, {})
            and (user, goal.target_user_id) not in listened
        )
        if mine or nudge or suggest:
            extras[user] = Extras(mine, nudge, suggest)
    return extras


def choose(candidates: list[Nudge], skip: str | None) -> Nudge | None:
    """The first candidate that last week's check-in did not already suggest thanking."""
    return next((c for c in candidates if c.user_id != skip), None)


def nudge_rows(
    workspace: Workspace, nudges: Mapping[str, tuple[str, Nudge]], now: datetime
) -> list[dict[str, Any]]:
    """The `checkin_nudges` rows recording which person each check-in (person -> (week,
    nudge)) suggested thanking, for inserting alongside the check-ins themselves."""
    return [
        {
            "team_id": workspace.team_id,
            "enterprise_id": workspace.enterprise_id,
            "user_id": user,
            "week": week,
            "target_user_id": nudge.user_id,
            "created_at": now,
        }
        for user, (week, nudge) in nudges.items()
    ]


_Row = tuple[Any, ...]


@dataclass(frozen=True)
class _Answer:
    listen_id: int
    asker_id: str
    colleague_id: str
    need: str
    followup_week: str | None


@dataclass(frozen=True)
class _Kept:
    ask_id: int
    asker_id: str
    helper_id: str
    done_at: datetime


def _named(query: Select[*_Row], team: str, user_id: Any) -> Select[*_Row]:
    """`query` with the name of the person in its column `user_id`, keeping only the rows
    about someone a check-in may name: not a bot, not deactivated, not a forgotten person's
    ghost. People the app has not met yet are kept: they may well be colleagues."""
    return (
        query.add_columns(Person.name)
        .outerjoin(Person, and_(Person.team_id == team, Person.user_id == user_id))
        .where(
            ~user_id.startswith(GHOST_PREFIX),
            or_(Person.id.is_(None), and_(Person.is_bot.is_(False), Person.deleted.is_(False))),
        )
    )


def _listens(
    session: Session, team: str, users: list[str], now: datetime, names: dict[str, str]
) -> tuple[list[_Answer], set[tuple[str, str]]]:
    """Answers still to follow up, oldest first, and who asked whom with /listen lately."""
    to_follow = and_(
        Listen.status == "answered", Listen.followup == "open", Listen.answered_at <= now
    )
    recent = Listen.created_at >= now - LISTENED_LATELY
    query = select(
        Listen.id,
        Listen.asker_id,
        Listen.colleague_id,
        Listen.need,
        Listen.followup_week,
        to_follow,
        recent,
    ).where(Listen.team_id == team, among(session, Listen.asker_id, users), or_(to_follow, recent))
    answers: list[_Answer] = []
    lately: set[tuple[str, str]] = set()
    rows = session.connection().execute(
        _named(query, team, Listen.colleague_id).order_by(Listen.answered_at, Listen.id)
    )
    for listen_id, asker, colleague, need, week, is_open, is_recent, name in rows:
        names[colleague] = name or ""
        if is_recent:
            lately.add((asker, colleague))
        if is_open and need and need.strip():
            answers.append(_Answer(listen_id, asker, colleague, need, week))
    return answers, lately


def _kept_unthanked(
    session: Session, team: str, users: list[str], now: datetime, names: dict[str, str]
) -> list[_Kept]:
    """Asks of `users` done in the look-back that no appreciation was linked to."""
    query = select(Ask.id, Ask.asker_id, Ask.helper_id, Ask.done_at).where(
        Ask.team_id == team,
        among(session, Ask.asker_id, users),
        Ask.status == "done",
        Ask.done_at >= now - KEPT_LOOKBACK,
        Ask.done_at <= now,
        Ask.thanked_at.is_(None),
        Ask.helper_id != Ask.asker_id,
    )
    kept = []
    for ask_id, asker, helper, done_at, name in session.connection().execute(
        _named(query, team, Ask.helper_id).order_by(Ask.done_at, Ask.id)
    ):
        names[helper] = name or ""
        kept.append(_Kept(ask_id, asker, helper, done_at))
    return kept


def _goal_targets(
    session: Session, team: str, weeks: Mapping[str, str], names: dict[str, str]
) -> dict[str, dict[str, datetime]]:
    """Person -> the people they set as buy-in goal in the weeks before their check-in's,
    each with when they last chose them."""
    first = shift_week(min(weeks.values()), -GOAL_LOOKBACK_WEEKS)
    query = select(
        BuyInGoal.user_id, BuyInGoal.week, BuyInGoal.target_user_id, BuyInGoal.created_at
    ).where(
        BuyInGoal.team_id == team,
        among(session, BuyInGoal.user_id, sorted(weeks)),
        BuyInGoal.week >= first,
        BuyInGoal.target_user_id != BuyInGoal.user_id,
    )
    goals: dict[str, dict[str, datetime]] = defaultdict(dict)
    for user, week, target, created_at, name in session.connection().execute(
        _named(query, team, BuyInGoal.target_user_id).order_by(BuyInGoal.created_at)
    ):
        this_week = weeks[user]
        # ISO weeks (2026-W05) sort as text in time order.
        if shift_week(this_week, -GOAL_LOOKBACK_WEEKS) <= week < this_week:
            names[target] = name or ""
            goals[user][target] = created_at
    return goals


def _last_thanks(
    session: Session, team: str, pairs: Collection[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], datetime]:
    """(giver, person) -> when, in the past year, the giver last thanked them (private
    thanks too), for these pairs: the givers' appreciations by
    `ix_appreciations_team_giver_created`, each with its recipients."""
    if not pairs:
        return {}
    a, r = Appreciation, AppreciationRecipient
    query = (
        select(a.giver_id, r.user_id, func.max(a.created_at))
        .join(r, r.appreciation_id == a.id)
        .where(
            a.team_id == team,
            among(session, a.giver_id, sorted({giver for giver, _ in pairs})),
            a.created_at >= now - THANKS_LOOKBACK,
            a.created_at <= now,
        )
        .group_by(a.giver_id, r.user_id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Only the pairs asked about are grouped and sent back, not every colleague each
        # giver thanked in a year.
        listed = sorted(pairs)
        wanted = (
            func.unnest(
                text_array([giver for giver, _ in listed]),
                text_array([user for _, user in listed]),
            )
            .table_valued("giver", "user_id")
            .render_derived(name="wanted")
        )
        query = query.join(
            wanted, and_(wanted.c.giver == a.giver_id, wanted.c.user_id == r.user_id)
        )
    else:
        # A test on each recipient found, not a lookup: SQLite would otherwise look up
        # every appreciation once for each person in the list (3x slower here).
        query = query.where(among(session, r.user_id + "", sorted({u for _, u in pairs})))
    rows = session.connection().execute(query)
    return {(giver, user): at for giver, user, at in rows if (giver, user) in pairs}


def _nudged_before(session: Session, team: str, weeks: Mapping[str, str]) -> dict[str, str]:
    """Person -> whom the check-in of the week before theirs suggested thanking."""
    if not weeks:
        return {}
    previous = {user: shift_week(week, -1) for user, week in weeks.items()}
    rows = session.connection().execute(
        select(CheckinNudge.user_id, CheckinNudge.week, CheckinNudge.target_user_id).where(
            CheckinNudge.team_id == team,
            among(session, CheckinNudge.user_id, sorted(weeks)),
            CheckinNudge.week.in_(sorted(set(previous.values()))),
        )
    )
    return {user: target for user, week, target in rows if previous[user] == week}


def _followups(answers: list[_Answer], weeks: Mapping[str, str]) -> dict[str, tuple[Followup, ...]]:
    """Oldest answer first, at most `FOLLOWUPS_PER_CHECKIN` each; none answered this week."""
    found: dict[str, list[Followup]] = defaultdict(list)
    for a in answers:
        mine = found[a.asker_id]
        if len(mine) < FOLLOWUPS_PER_CHECKIN and a.followup_week != weeks[a.asker_id]:
            mine.append(Followup(a.listen_id, a.colleague_id, a.need))
    return {user: tuple(f) for user, f in found.items() if f}


def _candidates(
    kept: list[_Kept],
    goals: Mapping[str, Mapping[str, datetime]],
    thanked: Mapping[tuple[str, str], datetime],
    names: Mapping[str, str],
    now: datetime,
    whole_history: bool,
) -> dict[str, list[Nudge]]:
    """Person -> whom to thank, best first: the most commitments kept since the last thanks,
    then the longest since thanks (never first), then the buy-in goals not thanked since."""
    unthanked: dict[tuple[str, str], list[int]] = defaultdict(list)
    for ask in kept:
        last = thanked.get((ask.asker_id, ask.helper_id))
        if last is None or last < ask.done_at:
            unthanked[(ask.asker_id, ask.helper_id)].append(ask.ask_id)
    for user, targets in goals.items():
        for target, chosen_at in targets.items():
            last = thanked.get((user, target))
            if last is None or last < chosen_at:
                unthanked.setdefault((user, target), [])
    by_user: dict[str, list[Nudge]] = defaultdict(list)
    for (user, target), ask_ids in unthanked.items():
        last = thanked.get((user, target))
        by_user[user].append(
            Nudge(
                user_id=target,
                name=names.get(target, ""),
                kept=len(ask_ids),
                ask_ids=tuple(ask_ids[-LINKED_ASKS:]),
                days_since_thanks=None if last is None else (now - last).days,
                never_thanked=last is None and whole_history,
            )
        )
    for nudges in by_user.values():
        nudges.sort(key=_rank)
    return by_user


def _rank(nudge: Nudge) -> tuple[int, float, str]:
    days = nudge.days_since_thanks
    return (-nudge.kept, -(float("inf") if days is None else days), nudge.user_id)
