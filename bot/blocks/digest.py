"""The weekly digest as a Slack message, and as plain text for `advocate digest preview`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.appreciation import OPEN_MODAL_ACTION
from bot.blocks.common import Block, actions, button, context, divider, header, message, section
from bot.services.digest import Advocate, Digest
from bot.text import as_plain, mention, safe_mrkdwn, truncate

QUOTE_LIMIT = 280
# In place of a quote, for an advocate whose thanks were all said in private conversations.
THANKED_IN_PRIVATE = "Thanked in a private conversation"
GIVERS_SHOWN = 3
FIRST_TIMERS_SHOWN = 10
# However busy the week, one digest names at most this many people: a list longer than
# that is not read, and every name in it is a notification.
MAX_NAMED = 30


class Names:
    """The people one digest names, up to `MAX_NAMED`; past it, people are counted."""

    def __init__(self, limit: int = MAX_NAMED) -> None:
        self.limit = limit
        self.named: set[str] = set()

    def take(self, user_ids: Sequence[str], most: int) -> tuple[list[str], int]:
        """Up to `most` of `user_ids` to name (people already named are free); the rest
        is how many are left unnamed."""
        shown: list[str] = []
        for user_id in user_ids:
            if len(shown) == most:
                break
            if user_id in self.named or len(self.named) < self.limit:
                self.named.add(user_id)
                shown.append(user_id)
        return shown, len(user_ids) - len(shown)


def _list(shown: Sequence[str], more: int, name: Callable[[str], str]) -> str:
    if not shown and more:
        return f"{more:,} {'person' if more == 1 else 'people'}"
    names = [name(u) for u in shown]
    if more > 0:
        names.append(f"{more:,} more")
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _totals(digest: Digest) -> str:
    thanks = "appreciation" if digest.total == 1 else "appreciations"
    line = (
        f"{digest.total} {thanks} from {digest.givers} "
        f"{'person' if digest.givers == 1 else 'people'} to {digest.people_thanked}."
    )
    if digest.commitments_kept:
        kept = "commitment" if digest.commitments_kept == 1 else "commitments"
        line += f" {digest.commitments_kept} {kept} kept on time"
        if digest.commitments_thanked:
            line += f", {digest.commitments_thanked} of them thanked in the ask's thread"
        line += "."
    return line


@dataclass(frozen=True)
class _Line:
    advocate: Advocate
    givers: list[str]
    more_givers: int
    quote_giver: str


def _lines(digest: Digest) -> tuple[list[_Line], list[str], int]:
    """Who is named where, within the digest's budget of names: the advocates first, then
    who thanked them, then the people recognised for the first time."""
    names = Names()
    advocates, _ = names.take([a.user_id for a in digest.advocates], len(digest.advocates))
    lines = []
    for advocate in digest.advocates:
        if advocate.user_id not in advocates:
            continue
        givers, more = names.take(advocate.givers, GIVERS_SHOWN)
        quote_giver, _ = names.take([advocate.quote_giver] if advocate.quote_giver else [], 1)
        lines.append(_Line(advocate, givers, more, quote_giver[0] if quote_giver else ""))
    first, more_first = names.take(digest.first_timers, FIRST_TIMERS_SHOWN)
    return lines, first, more_first


def digest_message(digest: Digest) -> dict[str, Any]:
    """The channel post: at most a few dozen blocks and `MAX_NAMED` people, however busy
    the week was."""
    blocks: list[Block] = [
        header(f"This week's internal advocates ({digest.week})"),
        section(
            "The people who made others' work possible this week, as their colleagues "
            "told it. The toughest sale is often inside the company: this is who won it."
        ),
        divider(),
    ]
    lines, first, more_first = _lines(digest)
    for rank, line in enumerate(lines, start=1):
        thanked_by = _list(line.givers, line.more_givers, mention) or "colleagues"
        if line.advocate.thanked_in_private:
            why = f"_{THANKED_IN_PRIVATE}._"
        else:
            quote = safe_mrkdwn(truncate(line.advocate.quote, QUOTE_LIMIT))
            said_by = f"\n_{mention(line.quote_giver)}_" if line.quote_giver else ""
            why = f">{quote}{said_by}"
        blocks.append(
            section(
                f"*{rank}. {mention(line.advocate.user_id)}*, thanked by {thanked_by}\n{why}",
                verbatim=True,
            )
        )
    if digest.more_advocates:
        blocks.append(context(f"…and {digest.more_advocates:,} more people were appreciated."))
    if first or more_first:
        blocks.append(divider())
        blocks.append(
            section(
                ":seedling: *Recognised for the first time:* " + _list(first, more_first, mention)
            )
        )
    blocks.append(divider())
    notes = [_totals(digest)]
    if digest.top_values:
        notes.append(
            "Values most cited: " + ", ".join(f"`#{v}` ({n})" for v, n in digest.top_values)
        )
    blocks.append(context(*notes))
    blocks.append(
        section(
            "Who helped you this week? Thank them today: it is how colleagues become advocates."
        )
    )
    blocks.append(actions(button("Appreciate someone", OPEN_MODAL_ACTION, style="primary")))
    named = _list([line.advocate.user_id for line in lines], 0, mention)
    return message(f"This week's internal advocates: {named}", blocks)


def covers(start: datetime, end: datetime, timezone: str) -> str:
    """The days a digest covers as people read them, in the workspace's timezone: from
    `Fri 27 Nov 16:00` to `Fri 4 Dec 16:00`, an en dash between, then `(Europe/Paris)`;
    with the year when it changes."""
    zone = ZoneInfo(timezone)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first >= last:
        return f"no days of its own: the digests around it cover them ({timezone})"

    def moment(at: datetime) -> str:
        year = f" {at.year}" if first.year != last.year else ""
        return f"{at:%a} {at.day} {at:%b}{year} {at:%H:%M}"

    return f"{moment(first)} – {moment(last)} ({timezone})"


def digest_text(digest: Digest, name: Callable[[str], str]) -> str:
    """A readable rendering for the terminal, naming whom the message names."""
    lines = [
        f"Internal advocates, week {digest.week}",
        f"covers {covers(digest.starts_at, digest.ends_at, digest.timezone)}",
        "",
    ]
    shown, first, more_first = _lines(digest)
    for rank, line in enumerate(shown, start=1):
        lines.append(
            f"{rank}. {name(line.advocate.user_id)}: thanked by "
            f"{_list(line.givers, line.more_givers, name)}"
        )
        if line.advocate.thanked_in_private:
            lines.append(f"   ({THANKED_IN_PRIVATE})")
        else:
            quote = truncate(as_plain(line.advocate.quote, name), QUOTE_LIMIT)
            said_by = f" ({name(line.quote_giver)})" if line.quote_giver else ""
            lines.append(f'   "{quote}"{said_by}')
    if digest.more_advocates:
        lines.append(f"…and {digest.more_advocates:,} more people were appreciated.")
    if first or more_first:
        lines += ["", "First time recognised: " + _list(first, more_first, name)]
    lines += ["", _totals(digest)]
    if digest.top_values:
        lines.append("Values most cited: " + ", ".join(f"#{v} ({n})" for v, n in digest.top_values))
    return "\n".join(lines)
