"""Whatever people type, nothing the app renders from it can ping a crowd.

Text people type comes back in many places: the appreciation post and DMs, the modal that
links a message, the ask and its thread, reminders, the commit modal, the weekly digest
and the Home tab. Each renderer is called here with the same hostile text in every field
people fill in, and the JSON Slack would receive must hold no `<!` control sequence
(`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^...>`) and no bare `@here`,
`@channel` or `@everyone` word: the app neutralises those with a word joiner after the @.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.blocks import appreciation as appreciation_blocks
from bot.blocks import asks as ask_blocks
from bot.blocks import listening as listening_blocks
from bot.blocks.digest import digest_message
from bot.blocks.home import HomeData, home_view
from bot.services.digest import Advocate, Digest
from bot.store.models import Appreciation, AppreciationRecipient, Ask, Listen, Obstacle

CROWD_PINGS = [
    "<!channel>",
    "<!here>",
    "<!here|x>",
    "<!everyone>",
    "<!subteam^S1|@t>",
    "<!subteam^S1>",
    "@here",
    "@channel",
    "@everyone",
    "@HERE",
    "@Channel",
    "&lt;!here&gt;",
    "&amp;lt;!channel&amp;gt;",
    "<<!here>>",
    "<@U123|<!everyone>>",
    "<https://example.com|@here>",
    "<#C1|@channel>",
]
PIECES = [
    *CROWD_PINGS,
    "<",
    ">",
    "!",
    "|",
    "^",
    "@",
    "&",
    "&lt;",
    "&gt;",
    "&amp;",
    "here",
    "channel",
    "<@U123>",
    "<@U123|ana>",
    "<#C1|general>",
    "<https://example.com/",
    "mailto:",
    " ",
    "\n",
    "\u2060",
    "\u202e",
]
hostile = st.one_of(
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=40).map("".join),
    st.text(),
    # Long enough that every renderer's truncation cuts it, possibly mid-sequence.
    st.tuples(st.sampled_from(CROWD_PINGS), st.integers(150, 3000)).map(
        lambda ping_and_size: (ping_and_size[0] * 3000)[: ping_and_size[1]]
    ),
)

# A link's target is a URL, not a mention, so `<mailto:@here>` pings no one; only the rest
# of the text is searched for bare broadcast words.
_LINK_TARGET = re.compile(r"<(?:https?://|mailto:)[^\s<>|]*")
_BARE_BROADCAST = re.compile(r"@(?:here|channel|everyone)\b", re.IGNORECASE)

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
PERMALINK = "https://example.slack.com/archives/C1/p1764082800000100"
ASK_STATUSES = ["asked", "discussing", "committed", "done", "declined", "cancelled"]
REMINDER_KINDS = ["due_today", "overdue_helper", "overdue_asker", "unanswered"]
THREAD_EVENTS = ["commit", "no_obstacles", "discuss", "decline", "done", "cancel"]


def appreciation(reason: str, *, is_private: bool = False) -> Appreciation:
    return Appreciation(
        giver_id="U1",
        reason=reason,
        company_values=[],
        is_private=is_private,
        message_permalink=PERMALINK,
        team_id="T1",
        source_key="k",
        recipients=[AppreciationRecipient(user_id="U2", team_id="T1")],
        created_at=NOW,
    )


def ask(
    request: str, *, decline_reason: str | None, status: str, obstacle: str | None = None
) -> Ask:
    return Ask(
        id=1,
        asker_id="U1",
        helper_id="U2",
        request=request,
        channel_id="C1",
        status=status,
        timezone="UTC",
        obstacles=[Obstacle(id=1, description=obstacle, status="open")]
        if obstacle is not None
        else [],
        due_on=date(2026, 12, 4),
        committed_on=date(2026, 12, 3) if status == "committed" else None,
        decline_reason=decline_reason,
    )


def advocate(quote: str) -> Advocate:
    return Advocate(
        user_id="U2", score=2.0, received=3, givers=["U1", "U3"], quote=quote, quote_giver="U1"
    )


def rendered(text: str, status: str) -> Iterator[tuple[str, Any]]:
    """Every message and view rendered from appreciation, asks and the digest holding `text`,
    named for the failure message. (The ask modal is left out: its input shows the request
    as typed, which is what an input is for, and pings no one.)"""
    given_thanks = appreciation(text)
    yield "appreciation channel post", appreciation_blocks.channel_message(given_thanks)
    yield "appreciation DM", appreciation_blocks.recipient_dm(given_thanks)
    yield (
        "private appreciation DM",
        appreciation_blocks.recipient_dm(appreciation(text, is_private=True)),
    )
    yield (
        "appreciation modal linking a message",
        appreciation_blocks.modal(
            values=["teamwork"], metadata={}, recipients=["U2"], channel_id="C1", linked_text=text
        ),
    )

    the_ask = ask(text, decline_reason=text, status=status, obstacle=text)
    obstacle = the_ask.obstacles[0]
    yield "thanks in an ask's thread", appreciation_blocks.channel_message(given_thanks, the_ask)
    yield "DM of thanks for an ask", appreciation_blocks.recipient_dm(given_thanks, the_ask)
    yield "ask message", ask_blocks.ask_message(the_ask)
    yield "ask status reply", ask_blocks.status_reply(the_ask)
    yield "ask questions", ask_blocks.questions(the_ask)
    yield "obstacle post", ask_blocks.obstacle_posted(the_ask, obstacle)
    for event in THREAD_EVENTS:
        yield f"thread reply to {event}", ask_blocks.event_posted(the_ask, event)
    for kind in REMINDER_KINDS:
        yield f"{kind} reminder", ask_blocks.reminder(the_ask, kind)
        yield f"{kind} reminder with a link", ask_blocks.reminder(the_ask, kind, PERMALINK)
    yield "commit modal", ask_blocks.commit_modal(the_ask, TODAY)

    listened = Listen(
        id=1,
        asker_id="U1",
        colleague_id="U2",
        topic=text,
        status="answered",
        need=text,
        obstacle=text,
        preference=text,
    )
    yield "/listen question", listening_blocks.question(listened)
    yield "/listen answer form", listening_blocks.answer_modal(listened, None)
    yield "/listen answer to the asker", listening_blocks.answered(listened)
    yield "/listen acted on", listening_blocks.acted_told(listened)

    yield (
        "weekly digest",
        digest_message(
            Digest(
                week="2026-W48",
                timezone="UTC",
                starts_at=datetime(2026, 11, 20, 16, tzinfo=UTC),
                ends_at=datetime(2026, 11, 27, 16, tzinfo=UTC),
                advocates=[advocate(text), advocate(text + text)],
                first_timers=["U2"],
                total=2,
                people_thanked=1,
                givers=2,
                top_values=[("teamwork", 2)],
                commitments_kept=1,
            )
        ),
    )
    counts = {"week": 1, "month": 2, "all": 3}
    for user_id in ("U1", "U2"):  # the asker's and the helper's Home tab differ
        yield (
            f"Home tab of {user_id}",
            home_view(
                HomeData(
                    user_id=user_id,
                    received=counts,
                    given=counts,
                    recent=[given_thanks, appreciation(text, is_private=True)],
                    open_asks=[the_ask, ask(text, decline_reason=None, status="committed")],
                    advocates=[advocate(text)],
                )
            ),
        )


def assert_pings_no_crowd(name: str, surface: Any) -> None:
    sent = json.dumps(surface, ensure_ascii=False)
    assert "<!" not in sent, f"{name} holds a control sequence: {sent}"
    words = _LINK_TARGET.sub("<", sent)
    assert _BARE_BROADCAST.search(words) is None, f"{name} holds a bare broadcast word: {sent}"


@settings(max_examples=150, deadline=None)
@given(text=hostile, status=st.sampled_from(ASK_STATUSES))
@example(text="<!channel> <!here|x> <!everyone> <!subteam^S1|@t>", status="asked")
@example(text="@here @channel @everyone &lt;!here&gt;", status="declined")
@example(text="thanks <@U123|@here> and <https://example.com|@channel>", status="committed")
@example(text="<!here>" * 500, status="discussing")
def test_no_rendered_message_or_view_can_ping_a_crowd(text: str, status: str) -> None:
    for name, surface in rendered(text, status):
        assert_pings_no_crowd(name, surface)


# Renderers that are checked too but only name people: the text is not theirs to repeat.
WITHOUT_PEOPLES_TEXT = {
    "ask questions",
    *(f"thread reply to {event}" for event in THREAD_EVENTS if event != "decline"),
}


def test_every_other_renderer_really_carries_the_text_it_is_checked_with() -> None:
    # Guards the property above: a renderer that dropped the text would pass it vacuously.
    marker = "marker-3f9a"
    missing = {name for name, surface in rendered(marker, "asked") if marker not in str(surface)}
    assert missing == WITHOUT_PEOPLES_TEXT
