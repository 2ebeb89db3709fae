"""`bot.text`: text people typed is reposted without pinging crowds or breaking mentions."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.text import escape_plain, mention, safe_mrkdwn, truncate

WORD_JOINER = "\u2060"

# What Slack may keep as a live `<...>` token in reposted text: one person, one channel, a link.
_ALLOWED_TOKEN = re.compile(
    r"<(?:"
    r"@[UW][A-Z0-9]+(?:\|[^<>|]*)?"
    r"|#C[A-Z0-9]+(?:\|[^<>|]*)?"
    r"|(?:https?://|mailto:)[^\s<>|]+(?:\|[^<>|]*)?"
    r")>"
)
_BARE_BROADCAST = re.compile(r"@(?:here|channel|everyone)\b", re.IGNORECASE)

DANGEROUS_FRAGMENTS = [
    "<!channel>",
    "<!here>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S1|@x>",
    "<!subteam^S123>",
    "<!date^1392734382^{date}|Feb 18>",
    "&lt;!here&gt;",
    "&lt;",
    "&gt;",
    "&amp;",
    "&",
    "<",
    ">",
    "<!",
    "!",
    "|",
    "^",
    "@",
    "#",
    "@here",
    "@channel",
    "@everyone",
    "@HERE",
    "@Channel",
    "here",
    "<@U123>",
    "<@U123|ana>",
    "<@W123|",
    "<@u123>",
    "<#C1|c>",
    "<#C123|general>",
    "<https://x.y|z>",
    "<https://x.y>",
    "<mailto:a@b.c|a@b.c>",
    "mailto:",
    " ",
    "\n",
    WORD_JOINER,
]

fragment_soup = st.lists(
    st.one_of(st.sampled_from(DANGEROUS_FRAGMENTS), st.text(max_size=4)), max_size=25
).map("".join)
any_text = st.one_of(st.text(), fragment_soup)


def assert_safe(out: str) -> None:
    assert "<!" not in out, out
    outside_tokens = _ALLOWED_TOKEN.sub("", out)
    assert "<" not in outside_tokens, f"a '<' starts a token Slack may act on: {out!r}"
    assert ">" not in outside_tokens, f"a stray '>' is left unescaped: {out!r}"
    assert _BARE_BROADCAST.search(out) is None, f"a bare broadcast word survives: {out!r}"


@settings(max_examples=300, deadline=None)
@given(any_text)
@example("<!channel>")
@example("<<!here>>")
@example("&lt;!here&gt;<!here|here>")
@example("<@U123|<!everyone>>")
@example("<https://x.y|@here>")
@example("@Everyone, @channel and @here!")
def test_safe_mrkdwn_output_can_ping_no_crowd_and_keeps_only_people_channels_and_links(
    text: str,
) -> None:
    assert_safe(safe_mrkdwn(text))


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_safe_mrkdwn_applied_twice_is_still_safe(text: str) -> None:
    assert_safe(safe_mrkdwn(safe_mrkdwn(text)))


@settings(max_examples=300, deadline=None)
@given(st.text().filter(lambda t: not set(t) & set("<>&@")))
def test_text_without_special_characters_is_left_exactly_as_written(text: str) -> None:
    assert safe_mrkdwn(text) == text


@pytest.mark.parametrize(
    "token",
    [
        "<@U123>",
        "<@U123ABC|ana>",
        "<@W0123|ben smith>",
        "<#C123|general>",
        "<#C0ABC>",
        "<https://example.com/path?q=1>",
        "<https://example.com|the docs>",
        "<http://example.com|plain http>",
        "<mailto:ana@example.com|ana@example.com>",
    ],
)
def test_person_channel_and_link_tokens_survive_unchanged(token: str) -> None:
    assert safe_mrkdwn(f"thanks {token} for this") == f"thanks {token} for this"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<!subteam^S123|@team>", "&lt;!subteam^S123|@team&gt;"),
        ("<@u123>", "&lt;@u123&gt;"),
        ("<javascript:alert(1)|x>", "&lt;javascript:alert(1)|x&gt;"),
    ],
)
def test_other_control_sequences_become_visible_text(text: str, expected: str) -> None:
    assert safe_mrkdwn(text) == expected


def test_a_broadcast_token_with_escaped_content_is_shown_once_escaped() -> None:
    # `<!subteam^S1|&lt;b&gt;>` as Slack escapes it: shown as `<!subteam^S1|<b>>`, not `&lt;`.
    assert safe_mrkdwn("<!subteam^S1|&lt;b&gt;>") == "&lt;!subteam^S1|&lt;b&gt;&gt;"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a & b", "a &amp; b"),
        ("&amp;", "&amp;"),
        ("&lt;b&gt;", "&lt;b&gt;"),
        ("1 < 2 > 0", "1 &lt; 2 &gt; 0"),
        ("&nbsp;", "&amp;nbsp;"),
        ("R&D&amp;Co", "R&amp;D&amp;Co"),
    ],
)
def test_stray_control_characters_are_escaped_and_existing_entities_kept(
    text: str, expected: str
) -> None:
    assert safe_mrkdwn(text) == expected


@pytest.mark.parametrize("word", ["here", "channel", "everyone", "HERE", "Channel"])
def test_bare_broadcast_word_gets_a_word_joiner_after_the_at_sign(word: str) -> None:
    assert safe_mrkdwn(f"hey @{word}!") == f"hey @{WORD_JOINER}{word}!"


@pytest.mark.parametrize("text", ["@hereford", "@channels", "@everyones", "@heRE_x"])
def test_words_merely_starting_like_a_broadcast_are_left_alone(text: str) -> None:
    assert safe_mrkdwn(text) == text


def test_label_of_a_kept_mention_is_escaped() -> None:
    assert safe_mrkdwn("<@U123|a & b>") == "<@U123|a &amp; b>"
    assert safe_mrkdwn("<https://x.y|@here>") == f"<https://x.y|@{WORD_JOINER}here>"


@pytest.mark.parametrize(
    "link",
    ["<mailto:bob@here.com|email Bob>", "<https://medium.com/@everyone/post-1|the post>"],
)
def test_link_targets_are_kept_byte_for_byte(link: str) -> None:
    assert safe_mrkdwn(link) == link


def test_escape_plain_escapes_every_control_character_even_entities() -> None:
    assert escape_plain("<a> & &amp;") == "&lt;a&gt; &amp; &amp;amp;"


def test_mention_formats_a_person_token() -> None:
    assert mention("U123") == "<@U123>"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abc", 3, "abc"), ("abcd", 3, "ab…"), ("", 1, ""), ("abcdef", 1, "…")],
)
def test_truncate_cuts_to_the_limit_with_an_ellipsis(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=50))
def test_truncate_never_exceeds_the_limit_and_keeps_short_text(text: str, limit: int) -> None:
    out = truncate(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert out.endswith("…") and text.startswith(out[:-1])


def test_broadcast_word_inside_a_neutralised_token_is_neutralised_too() -> None:
    assert "@here" not in safe_mrkdwn("<@HERE>").lower()
