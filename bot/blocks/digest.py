"""The weekly digest as a Slack message, and as plain text for `advocate digest preview`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.blocks.appreciation import OPEN_MODAL_ACTION
from bot.blocks.common import Block, actions, button, context, divider, header, message, section
from bot.services.digest import Digest
from bot.text import as_plain, mention, safe_mrkdwn, truncate

QUOTE_LIMIT = 280
NAMES_SHOWN = 5
FIRST_TIMERS_SHOWN = 40


def _list(user_ids: Sequence[str], name: Callable[[str], str], shown: int) -> str:
    names = [name(u) for u in user_ids[:shown]]
    more = len(user_ids) - shown
    if more > 0:
        names.append(f"{more} more")
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


def digest_message(digest: Digest) -> dict[str, Any]:
    """The channel post: at most a few dozen blocks, however busy the week was."""
    blocks: list[Block] = [
        header(f"This week's internal advocates ({digest.week})"),
        section(
            "The people who made others' work possible this week, as their colleagues "
            "told it. The toughest sale is often inside the company: this is who won it."
        ),
        divider(),
    ]
    for rank, advocate in enumerate(digest.advocates, start=1):
        thanked_by = _list(advocate.givers, mention, NAMES_SHOWN) or "colleagues"
        quote = safe_mrkdwn(truncate(advocate.quote, QUOTE_LIMIT))
        said_by = f"\n_{mention(advocate.quote_giver)}_" if advocate.quote_giver else ""
        blocks.append(
            section(
                f"*{rank}. {mention(advocate.user_id)}*, thanked by {thanked_by}\n"
                f">{quote}{said_by}",
                verbatim=True,
            )
        )
    if digest.more_advocates:
        blocks.append(context(f"…and {digest.more_advocates} more people were appreciated."))
    if digest.first_timers:
        blocks.append(divider())
        blocks.append(
            section(
                ":seedling: *Recognised for the first time:* "
                + _list(digest.first_timers, mention, FIRST_TIMERS_SHOWN)
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
    named = _list([a.user_id for a in digest.advocates], mention, NAMES_SHOWN)
    return message(f"This week's internal advocates: {named}", blocks)


def digest_text(digest: Digest, name: Callable[[str], str]) -> str:
    """A readable rendering for the terminal."""
    lines = [f"Internal advocates, week {digest.week} ({digest.timezone})", ""]
    for rank, advocate in enumerate(digest.advocates, start=1):
        lines.append(
            f"{rank}. {name(advocate.user_id)}: thanked by "
            f"{_list(advocate.givers, name, NAMES_SHOWN)}"
        )
        quote = truncate(as_plain(advocate.quote, name), QUOTE_LIMIT)
        lines.append(f'   "{quote}" ({name(advocate.quote_giver)})')
    if digest.more_advocates:
        lines.append(f"…and {digest.more_advocates} more people were appreciated.")
    if digest.first_timers:
        lines += [
            "",
            "First time recognised: " + _list(digest.first_timers, name, FIRST_TIMERS_SHOWN),
        ]
    lines += ["", _totals(digest)]
    if digest.top_values:
        lines.append("Values most cited: " + ", ".join(f"#{v} ({n})" for v, n in digest.top_values))
    return "\n".join(lines)
