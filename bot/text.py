"""Making text people typed safe to repost in Slack.

Slack parses `<...>` sequences in message text: `<!here>`, `<!channel>`, `<!everyone>` and
`<!subteam^ID>` ping crowds. Text that people type and the app reposts goes through
`safe_mrkdwn`, which keeps mentions of single people, channels and links, and turns every
other control sequence (and bare `@here`-style words) into plain, harmless text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_PERSON = re.compile(r"@[UW][A-Z0-9]{2,}(\|[^<>|]*)?")
_CHANNEL = re.compile(r"#C[A-Z0-9]{2,}(\|[^<>|]*)?")
_LINK = re.compile(r"(https?://|mailto:)[^\s<>|]+(\|[^<>|]*)?")
_BARE_BROADCAST = re.compile(r"@(?=(here|channel|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"


def escape_plain(text: str) -> str:
    """Escape `&`, `<` and `>` so Slack shows the text exactly as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_mrkdwn(text: str) -> str:
    """Return `text` fit to repost: people, channels and links stay; nothing can ping a crowd."""
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(_escape_loose(text[pos : match.start()]))
        inner = match.group(1)
        if _PERSON.fullmatch(inner) or _CHANNEL.fullmatch(inner) or _LINK.fullmatch(inner):
            out.append(f"<{_escape_label(inner)}>")
        else:
            out.append(_neutralise(escape_plain(f"<{_unescape(inner)}>")))
        pos = match.end()
    out.append(_escape_loose(text[pos:]))
    return "".join(out)


def _escape_loose(fragment: str) -> str:
    # Text from slash commands arrives already escaped (`&amp;`); text from modals arrives
    # raw. Keep the three entities Slack uses and escape everything else.
    # Bare `@here` words are neutralised here, outside kept tokens, so links stay intact.
    parts = _ENTITY.split(fragment)
    out = []
    for i in range(0, len(parts), 2):
        out.append(_neutralise(escape_plain(parts[i])))
        if i + 1 < len(parts):
            out.append(f"&{parts[i + 1]};")
    return "".join(out)


def _neutralise(escaped: str) -> str:
    return _BARE_BROADCAST.sub("@" + _WORD_JOINER, escaped)


def _escape_label(inner: str) -> str:
    target, bar, label = inner.partition("|")
    return target + bar + _escape_loose(label) if bar else target


def _unescape(fragment: str) -> str:
    return fragment.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_plain(text: str, name: Callable[[str], str]) -> str:
    """Slack markup as a terminal would show it: people by `name`, links by label."""

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if _PERSON.fullmatch(match.group(1)):
            return name(target[1:])
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return label or target

    return _unescape(_TOKEN.sub(token, text))
