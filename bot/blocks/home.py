"""The Home tab: a person's own story, and for admins, the workspace's settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.blocks import asks as ask_blocks
from bot.blocks.appreciation import OPEN_MODAL_ACTION, stats_message
from bot.blocks.checkin import PAUSE_ACTION, RESUME_ACTION, STOP_ACTION
from bot.blocks.common import Block, actions, button, context, divider, header, section
from bot.services.asks import describe_status
from bot.services.checkins import OUTCOMES
from bot.services.digest import Advocate
from bot.services.settings import WorkspaceSettings
from bot.store.models import Appreciation, Ask, BuyInGoal
from bot.text import mention, safe_mrkdwn, truncate

HOME_ASKS = 10
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
