"""The weekly digest: who ranks where, and how the digest reads in Slack and in a terminal."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.blocks.digest import MAX_NAMED, QUOTE_LIMIT, covers, digest_message, digest_text
from bot.services.digest import Advocate, Digest, rank
from bot.store.queries import Thanks
from tests.support.blockkit import MAX_MESSAGE_BLOCKS, assert_valid_message_blocks


def counted(*appreciations: tuple[str, str]) -> list[Thanks]:
    """(giver, recipient) pairs, one per appreciation, counted as the database counts them."""
    per_giver = Counter(appreciations)
    grouped = Counter((r, n) for (_, r), n in per_giver.items())
    return [Thanks(user_id=r, times=n, givers=k) for (r, n), k in grouped.items()]


def advocate(user_id: str, **overrides: Any) -> Advocate:
    fields: dict[str, Any] = {
        "user_id": user_id,
        "score": 1.0,
        "received": 1,
        "givers": ["UBEN"],
        "quote": "for the help",
        "quote_giver": "UBEN",
    }
    return Advocate(**(fields | overrides))


def digest(**overrides: Any) -> Digest:
    fields: dict[str, Any] = {
        "week": "2026-W48",
        "timezone": "Europe/Paris",
        "starts_at": datetime(2026, 11, 20, 15, tzinfo=UTC),  # Friday 16:00 in Paris
        "ends_at": datetime(2026, 11, 27, 15, tzinfo=UTC),
        "advocates": [advocate("UANA")],
        "first_timers": [],
        "total": 1,
        "people_thanked": 1,
        "givers": 1,
        "top_values": [],
    }
    return Digest(**(fields | overrides))


def texts(message: dict[str, Any]) -> str:
    """Every text in a message (fallback, sections, context elements), one per line."""
    found = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                found.append(element["text"])
    return "\n".join(found)


# --- rank ---------------------------------------------------------------------------------


def test_ten_thanks_from_one_person_rank_below_one_thanks_each_from_ten_people() -> None:
    # UA1's id sorts first and both received ten, so only the score can put UB1 ahead.
    public = [("UG1", "UA1")] * 10 + [(f"UG{i}", "UB1") for i in range(1, 11)]

    ranked = rank(counted(*public))

    assert [a.user_id for a in ranked] == ["UB1", "UA1"]
    assert ranked[0].score == pytest.approx(10)
    assert ranked[1].score == pytest.approx(math.sqrt(10))
    assert [a.received for a in ranked] == [10, 10]


def test_equal_scores_rank_by_thanks_received_then_by_user_id() -> None:
    public = [
        ("UG1", "UC2"),  # score 1, received 1
        ("UG1", "UA"),  # with the next: score 1 + 1 = 2, received 2
        ("UG2", "UA"),
        *[("UG1", "UZ")] * 4,  # score sqrt(4) = 2, received 4
        ("UG1", "UC1"),  # score 1, received 1
    ]

    ranked = rank(counted(*public))

    assert [(a.user_id, a.score, a.received) for a in ranked] == [
        ("UZ", 2.0, 4),
        ("UA", 2.0, 2),
        ("UC1", 1.0, 1),
        ("UC2", 1.0, 1),
    ]


def test_equal_scores_are_equal_whatever_order_the_givers_come_in() -> None:
    # Summed one after the other, sqrt(1) + sqrt(2) + sqrt(10) is one bit smaller than
    # sqrt(10) + sqrt(2) + sqrt(1): the float noise alone would put UB first.
    one = [("UG1", "UA")] * 1 + [("UG2", "UA")] * 2 + [("UG3", "UA")] * 10
    other = [("UG3", "UB")] * 10 + [("UG2", "UB")] * 2 + [("UG1", "UB")] * 1

    ranked = rank(counted(*one, *other))

    assert ranked[0].score == ranked[1].score
    assert [a.user_id for a in ranked] == ["UA", "UB"]


def test_one_appreciation_to_several_people_counts_for_each_of_them() -> None:
    public = [("UG1", "UA"), ("UG1", "UB"), ("UG2", "UB")]

    ranked = {a.user_id: a for a in rank(counted(*public))}

    assert set(ranked) == {"UA", "UB"}
    assert ranked["UA"].received == 1
    assert (ranked["UB"].received, ranked["UB"].score) == (2, 2.0)


def test_rank_of_no_appreciation_is_empty() -> None:
    assert rank([]) == []


# --- digest_message -----------------------------------------------------------------------

# 1,000 characters that try every way of pinging a crowd, starting within the quoted part.
CROWD_PINGS = "<!channel> <!here> <!everyone> <!subteam^S0123> <!here|here> @channel "
LOUD_QUOTE = (CROWD_PINGS + "thanks " * 200)[:1000]


def busy_week() -> Digest:
    """500 people recognised: 5 shown, 495 more, all 500 for the first time."""
    return digest(
        advocates=[
            advocate(
                f"UADV{i}",
                score=50.0 - i,
                received=60,
                givers=[f"UGIV{j:03d}" for j in range(50)],
                quote=LOUD_QUOTE,
                quote_giver="UGIV000",
            )
            for i in range(5)
        ],
        more_advocates=495,
        first_timers=[f"UNEW{i:03d}" for i in range(500)],
        total=2000,
        people_thanked=500,
        givers=400,
        top_values=[("ownership", 300), ("teamwork", 200), ("candour", 100)],
        commitments_kept=12,
    )


def test_digest_of_a_500_person_week_is_valid_block_kit_within_50_blocks() -> None:
    message = digest_message(busy_week())

    assert_valid_message_blocks(message["blocks"])
    assert len(message["blocks"]) <= MAX_MESSAGE_BLOCKS
    assert len(message["text"]) <= 3000


def test_digest_of_a_500_person_week_pings_no_crowd() -> None:
    assert len(LOUD_QUOTE) == 1000
    message = digest_message(busy_week())

    dumped = json.dumps(message, ensure_ascii=False)
    assert "<!" not in dumped
    assert "@channel" not in dumped  # neutralised with a word joiner


def test_digest_message_cuts_long_quotes_to_the_quote_limit() -> None:
    shown = texts(digest_message(digest(advocates=[advocate("UANA", quote="x" * 1000)])))

    assert ">" + "x" * (QUOTE_LIMIT - 1) + "…\n_<@UBEN>_" in shown
    assert "x" * QUOTE_LIMIT not in shown


def test_digest_of_a_500_person_week_says_how_many_more_there_are() -> None:
    shown = texts(digest_message(busy_week()))

    assert "495 more people were appreciated" in shown
    assert "and 490 more" in shown  # 10 of the 500 first-timers are named
    assert "and 47 more" in shown  # 3 of each advocate's 50 givers are named
    for i in range(5):
        assert f"*{i + 1}. <@UADV{i}>*" in shown
    assert "<@UNEW009>" in shown
    assert "<@UNEW010>" not in shown


def test_a_digest_names_at_most_30_people_whatever_the_week() -> None:
    """Ten advocates, each thanked by 50 different people, and 500 first-timers."""
    week = digest(
        advocates=[
            advocate(
                f"UADV{i}",
                givers=[f"UGIV{i}{j:02d}" for j in range(50)],
                quote="for the launch",
                quote_giver=f"UGIV{i}49",
            )
            for i in range(10)
        ],
        first_timers=[f"UNEW{i:03d}" for i in range(500)],
        people_thanked=500,
    )
    message = digest_message(week)
    named = set(re.findall(r"<@(U[A-Z0-9]+)>", json.dumps(message)))
    assert 20 <= len(named) <= MAX_NAMED
    assert {f"UADV{i}" for i in range(10)} <= named
    assert "and 47 more" in texts(message)  # 3 of the first advocates' givers are named
    assert "*10. <@UADV9>*, thanked by 50 people" in texts(message)  # past the budget
    assert "Recognised for the first time:* 500 people" in texts(message)
    preview = digest_text(week, lambda user_id: user_id.lower())
    assert {w for w in re.findall(r"\b(u[a-z0-9]+)\b", preview)} == {u.lower() for u in named}


def test_digest_without_values_has_no_values_line() -> None:
    quiet = digest(top_values=[])

    assert "Values most cited" not in texts(digest_message(quiet))
    assert "Values most cited" not in digest_text(quiet, str)


def test_digest_with_values_lists_them_with_counts() -> None:
    cited = digest(top_values=[("ownership", 3), ("candour", 1)])

    assert "Values most cited: `#ownership` (3), `#candour` (1)" in texts(digest_message(cited))
    assert "Values most cited: #ownership (3), #candour (1)" in digest_text(cited, str)


def test_digest_totals_show_commitments_kept_only_when_there_are_some() -> None:
    kept = digest(total=7, givers=3, people_thanked=4, commitments_kept=2)
    none_kept = digest(total=7, givers=3, people_thanked=4)

    totals = "7 appreciations from 3 people to 4. 2 commitments kept on time."
    assert totals in texts(digest_message(kept))
    assert totals in digest_text(kept, str)
    assert "commitments" not in texts(digest_message(none_kept))
    assert "commitments" not in digest_text(none_kept, str)


def test_digest_totals_use_the_singular_for_one_appreciation_from_one_person() -> None:
    one = digest(total=1, givers=1, people_thanked=1)

    assert "1 appreciation from 1 person to 1." in digest_text(one, str)


def test_digest_totals_use_the_singular_for_one_commitment_kept() -> None:
    assert "1 commitment kept on time." in digest_text(digest(commitments_kept=1), str)


# --- digest_text --------------------------------------------------------------------------

NAMES = {
    "UANA": "Ana",
    "UBEN": "Ben",
    "UCARLA": "Carla",
    "UDEV": "Dev",
    "UEVE": "Eve",
    "UFINN": "Finn",
}


def test_digest_text_names_everyone_through_the_name_callable() -> None:
    called: list[str] = []

    def name(user_id: str) -> str:
        called.append(user_id)
        return NAMES[user_id]

    preview = digest(
        advocates=[
            advocate(
                "UANA", givers=["UBEN", "UCARLA"], quote="for the release", quote_giver="UBEN"
            ),
            advocate("UDEV", givers=["UEVE"], quote="for the on-call swap", quote_giver="UEVE"),
        ],
        more_advocates=3,
        first_timers=["UDEV", "UFINN"],
        total=6,
        givers=3,
        people_thanked=5,
    )

    text = digest_text(preview, name)

    assert set(called) == set(NAMES)
    assert text.splitlines()[:6] == [
        "Internal advocates, week 2026-W48",
        "covers Fri 20 Nov 16:00 – Fri 27 Nov 16:00 (Europe/Paris)",
        "",
        "1. Ana: thanked by Ben and Carla",
        '   "for the release" (Ben)',
        "2. Dev: thanked by Eve",
    ]
    assert "First time recognised: Dev and Finn" in text
    assert "…and 3 more people were appreciated." in text
    for user_id in NAMES:
        assert user_id not in text
    assert "<@" not in text
    assert "<!" not in text


def test_digest_text_truncates_long_quotes() -> None:
    preview = digest(advocates=[advocate("UANA", quote="x" * 1000)])

    text = digest_text(preview, NAMES.__getitem__)

    assert '"' + "x" * (QUOTE_LIMIT - 1) + '…" (' in text
    assert "x" * QUOTE_LIMIT not in text


def test_digest_text_shows_no_slack_mention_syntax_from_quotes() -> None:
    preview = digest(advocates=[advocate("UANA", quote="with <@UBEN> on <!here> night")])

    text = digest_text(preview, NAMES.__getitem__)

    assert "<@" not in text
    assert "<!" not in text


@pytest.mark.parametrize(
    ("start", "end", "timezone", "expected"),
    [
        pytest.param(
            datetime(2026, 11, 27, 15, tzinfo=UTC),
            datetime(2026, 12, 4, 15, tzinfo=UTC),
            "Europe/Paris",
            "Fri 27 Nov 16:00 – Fri 4 Dec 16:00 (Europe/Paris)",
            id="paris",
        ),
        pytest.param(
            datetime(2026, 3, 27, 15, tzinfo=UTC),
            datetime(2026, 4, 3, 14, tzinfo=UTC),
            "Europe/Paris",
            "Fri 27 Mar 16:00 – Fri 3 Apr 16:00 (Europe/Paris)",
            id="paris-spring-forward",
        ),
        pytest.param(
            datetime(2026, 12, 28, 8, tzinfo=UTC),
            datetime(2027, 1, 4, 8, tzinfo=UTC),
            "UTC",
            "Mon 28 Dec 2026 08:00 – Mon 4 Jan 2027 08:00 (UTC)",
            id="new-year",
        ),
        pytest.param(
            datetime(2026, 11, 27, 15, tzinfo=UTC),
            datetime(2026, 11, 27, 15, tzinfo=UTC),
            "UTC",
            "no days of its own: the digests around it cover them (UTC)",
            id="none",
        ),
    ],
)
def test_covers_says_the_days_in_the_workspace_timezone(
    start: datetime, end: datetime, timezone: str, expected: str
) -> None:
    assert covers(start, end, timezone) == expected
