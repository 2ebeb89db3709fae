"""The Home tab: a person's own story, and for admins, the workspace's settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.blocks import asks as ask_blocks
from bot.blocks.appreciation import (
    APPRECIATE_PERSON,
    OPEN_MODAL_ACTION,
    appreciate_person_value,
    stats_message,
)
from bot.blocks.checkin import PAUSE_ACTION, RESUME_ACTION, STOP_ACTION
from bot.blocks.common import Block, actions, button, context, divider, header, section
from bot.blocks.listening import LISTEN_OPEN
from bot.services.asks import describe_status
from bot.services.checkins import OUTCOMES
from bot.services.digest import Advocate
from bot.services.relationships import LATELY, Colleague
from bot.services.settings import WorkspaceSettings
from bot.store.models import Appreciation, Ask, BuyInGoal
from bot.text import mention, safe_mrkdwn, truncate

HOME_ASKS = 10
NEED_SHOWN = 150  # characters of what a colleague said they need
NEW_ASK_ACTION = "home_new_ask"
SETTINGS_ACTION = "settings_open"
SCHEDULE_ACTION = "checkin_schedule_open"
DAY_NAMES = {
    "mon": "Mondays",
    "tue": "Tuesdays",
    "wed": "Wednesdays",
    "thu": "Thursdays",
    "fri": "Fridays",
    "sat": "Saturdays",
    "sun": "Sundays",
}


@dataclass
class HomeData:
    user_id: str
    received: dict[str, int]
    given: dict[str, int]
    recent: Sequence[Appreciation] = ()
    open_asks: Sequence[Ask] = ()
    goals: Sequence[BuyInGoal] = ()
    this_week: str | None = None
    checkin_day: str = "mon"
    checkin_time: str = "09:30"
    checkins_stopped: bool = False
    paused_until: str | None = None
    advocates: Sequence[Advocate] = ()
    people: Sequence[Colleague] = ()
    # What "5 weeks ago" is counted from; without it, dates are shown as dates.
    now: datetime | None = None
    admin_settings: WorkspaceSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def home_view(data: HomeData) -> dict[str, Any]:
    blocks: list[Block] = [
        header("Your advocates"),
        actions(
            button("Appreciate someone", OPEN_MODAL_ACTION, style="primary"),
            button("Ask for a commitment", NEW_ASK_ACTION),
        ),
        section(stats_message(data.user_id, data.received, data.given)),
    ]
    blocks += _recent(data)
    blocks += _asks(data)
    blocks += _goals(data)
    blocks += _people(data)
    blocks += _checkins(data)
    blocks += _advocates(data)
    if data.admin_settings is not None:
        blocks += _admin(data.admin_settings)
    blocks.append(
        context(
            "Ask questions, listen, appreciate, and ask for a commitment: that is how "
            "colleagues become advocates."
        )
    )
    return {"type": "home", "blocks": blocks[:100]}


def _recent(data: HomeData) -> list[Block]:
    if not data.recent:
        return [context("No appreciation received yet. Give some: it tends to come back.")]
    lines = []
    for appreciation in data.recent:
        private = " _(private)_" if appreciation.is_private else ""
        reason = safe_mrkdwn(truncate(appreciation.reason, 200))
        lines.append(f"• {mention(appreciation.giver_id)}{private}: {reason}")
    more = data.received["all"] - len(data.recent)
    blocks = [
        divider(),
        section("*Lately you were appreciated by*\n" + "\n".join(lines), verbatim=True),
    ]
    if more > 0:
        blocks.append(context(f"…and {more:,} more over time."))
    return blocks


def _asks(data: HomeData) -> list[Block]:
    if not data.open_asks:
        return [context("No open asks. `/ask @someone what you need by Friday` starts one.")]
    blocks: list[Block] = [divider(), section("*Your open asks*")]
    for ask in data.open_asks[:HOME_ASKS]:
        value = str(ask.id)
        if ask.helper_id == data.user_id:
            line = f"{mention(ask.asker_id)} asked you"
            buttons = [button("Mark done", ask_blocks.DONE, value, style="primary")]
            if ask.status != "committed":
                buttons.insert(0, button("Commit", ask_blocks.COMMIT, value))
        else:
            line = f"You asked {mention(ask.helper_id)}"
            buttons = [button("Cancel", ask_blocks.CANCEL, value)]
        request = safe_mrkdwn(truncate(ask.request, 200))
        blocks.append(
            section(f"{line}: _{request}_\nStatus: *{describe_status(ask)}*", verbatim=True)
        )
        blocks.append(actions(*buttons))
    if len(data.open_asks) > HOME_ASKS:
        blocks.append(context(f"…and {len(data.open_asks) - HOME_ASKS} more."))
    return blocks


def _goals(data: HomeData) -> list[Block]:
    current = next((g for g in data.goals if g.week == data.this_week), None)
    text = (
        f"*Your buy-in goal this week:* {mention(current.target_user_id)}"
        if current
        else "*Your buy-in goal this week:* not set yet. Who is one person whose support "
        "you want? Your check-in will ask."
    )
    blocks: list[Block] = [divider(), section(text)]
    past = [g for g in data.goals if g is not current][:4]
    if past:
        lines = [
            f"{g.week}: {mention(g.target_user_id)}"
            + (f" ({OUTCOMES[g.outcome]})" if g.outcome else "")
            for g in past
        ]
        blocks.append(context("Earlier goals: " + " · ".join(lines)))
    return blocks


def _people(data: HomeData) -> list[Block]:
    """Your people: per colleague, what they did for you lately, when you last thanked
    them and what they need, with a button for each of the two things to do next."""
    if not data.people:
        return [
            context(
                "*Your people* will appear here: the colleagues you work with most. "
                "Appreciate someone who helped you, or `/listen` to ask a colleague what "
                "they need from you."
            )
        ]
    blocks: list[Block] = [
        divider(),
        section(
            "*Your people*\nWho you work with most: what they did for you lately, "
            "and what they need from you."
        ),
    ]
    for colleague in data.people:
        blocks.append(section(_colleague(colleague, data.now), verbatim=True))
        blocks.append(
            actions(
                button("Appreciate", APPRECIATE_PERSON, appreciate_person_value(colleague.user_id)),
                button("Ask what they need", LISTEN_OPEN, colleague.user_id),
            )
        )
    return blocks


def _colleague(colleague: Colleague, now: datetime | None) -> str:
    kept = _count(colleague.kept_lately, "commitment") + " kept for you"
    thanked = _count(colleague.thanked_lately, "appreciation") + " from you"
    last = (
        f"last thanked {_ago(colleague.last_thanked_at, now)}"
        if colleague.last_thanked_at
        else "not thanked yet"
    )
    lines = [
        f"{mention(colleague.user_id)} · {last}",
        f"Last {LATELY.days} days: {kept} · {thanked}",
    ]
    if colleague.need:
        need = safe_mrkdwn(truncate(" ".join(colleague.need.split()), NEED_SHOWN))
        told = f", as they told you {_ago(colleague.need_at, now)}" if colleague.need_at else ""
        lines.append(f"What they need{told}: “{need}”")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    if n == 0:
        return f"no {noun}s"
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _ago(then: datetime, now: datetime | None) -> str:
    """`then` in words relative to `now`: today, yesterday, 5 days / 5 weeks / 5 months ago."""
    if now is None:
        return f"on {then:%-d %B %Y}"
    days = max(0, (now - then).days)
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    if days < 365:
        return f"{days // 30} months ago"
    years = days // 365
    return "a year ago" if years == 1 else f"{years} years ago"


def _checkins(data: HomeData) -> list[Block]:
    when = f"{DAY_NAMES[data.checkin_day]} at {data.checkin_time} your time"
    if data.checkins_stopped:
        return [
            section(
                f"*Weekly check-ins:* off (they would come {when}).",
                accessory=button("Turn check-ins back on", RESUME_ACTION),
            )
        ]
    if data.paused_until:
        return [
            section(
                f"*Weekly check-ins:* paused until {data.paused_until}.",
                accessory=button("Resume now", RESUME_ACTION),
            )
        ]
    return [
        section(
            f"*Weekly check-ins:* {when}.", accessory=button("Change day or time", SCHEDULE_ACTION)
        ),
        actions(
            button("Pause for 4 weeks", PAUSE_ACTION, "home"),
            button("Stop check-ins", STOP_ACTION, "home"),
        ),
    ]


def _advocates(data: HomeData) -> list[Block]:
    if not data.advocates:
        return []
    lines = [
        f"{n}. {mention(a.user_id)}: thanked by {len(a.givers)} "
        f"{'person' if len(a.givers) == 1 else 'people'}"
        for n, a in enumerate(data.advocates, start=1)
    ]
    return [divider(), section("*This month's internal advocates*\n" + "\n".join(lines))]


def _admin(config: WorkspaceSettings) -> list[Block]:
    digest = (
        f"<#{config.digest_channel}>, {DAY_NAMES[config.digest_day]} at {config.digest_time} "
        f"({config.timezone})"
        if config.digest_channel
        else "no channel set, so no digest is posted"
    )
    audience = {
        "users": "people who use the app",
        "all": "all members",
        "channel": f"members of <#{config.checkin_channel}>",
    }[config.checkin_audience]
    values = ", ".join(f"`#{v}`" for v in config.values) or "none"
    return [
        divider(),
        header("Workspace settings"),
        section(
            f"*Digest:* {digest}\n*Check-ins:* {audience}, {DAY_NAMES[config.checkin_day]} at "
            f"{config.checkin_time}\n*Daily giving limit:* {config.daily_limit}\n"
            f"*Company values:* {values}",
            accessory=button("Edit settings", SETTINGS_ACTION),
        ),
    ]
