"""Your people on the Home: who is ranked, what each colleague's lines say, and whose
history may show where (private appreciation, /listen answers, other workspaces)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from bot.blocks.appreciation import APPRECIATE_PERSON, appreciate_person_value
from bot.blocks.listening import LISTEN_OPEN
from bot.domain import PersonInfo, Workspace
from bot.listeners.home import publish_home
from bot.runtime import Runtime
from bot.services import appreciation, lifecycle, relationships
from bot.services.digest import GHOST_PREFIX
from bot.store.db import Database
from bot.store.models import Ask, Listen, Person
from tests.conftest import MovableClock
from tests.support.blockkit import assert_valid_home
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
ELSEWHERE = Workspace("T222")
ME = "U100"
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # the `clock` fixture's
_keys = itertools.count()


def thank(
    db: Database,
    giver: str,
    recipients: list[str],
    at: datetime,
    *,
    private: bool = False,
    workspace: Workspace = WS,
) -> None:
    draft = appreciation.Draft(
        giver, recipients, "thanks", is_private=private, source_key=f"t{next(_keys)}"
    )
    appreciation.record(db, workspace, draft, PersonInfo(giver), at, daily_limit=1000)


def ask(
    db: Database,
    asker: str,
    helper: str,
    at: datetime,
    *,
    done_at: datetime | None = None,
    workspace: Workspace = WS,
) -> None:
    with db.transaction() as session:
        session.add(
            Ask(
                team_id=workspace.team_id,
                asker_id=asker,
                helper_id=helper,
                request="the rollout plan",
                channel_id="C111",
                status="done" if done_at else "asked",
                source_key=f"a{next(_keys)}",
                created_at=at,
                updated_at=done_at or at,
                done_at=done_at,
            )
        )


def listen(
    db: Database,
    asker: str,
    colleague: str,
    at: datetime,
    need: str | None = None,
    *,
    status: str = "answered",
    workspace: Workspace = WS,
) -> None:
    with db.transaction() as session:
        session.add(
            Listen(
                team_id=workspace.team_id,
                asker_id=asker,
                colleague_id=colleague,
                status=status,
                need=need,
                source_key=f"l{next(_keys)}",
                created_at=at,
                answered_at=at if status == "answered" else None,
            )
        )


def person(db: Database, user_id: str, workspace: Workspace = WS, **facts: bool) -> None:
    with db.transaction() as session:
        session.add(Person(team_id=workspace.team_id, user_id=user_id, refreshed_at=NOW, **facts))


def ranked(db: Database, user_id: str = ME, workspace: Workspace = WS) -> list[tuple[str, int]]:
    return [(c.user_id, c.score) for c in relationships.your_people(db, workspace, user_id, NOW)]


def home_of(runtime: Runtime, slack: FakeSlack, user_id: str) -> dict[str, Any]:
    """The Home that `publish_home` publishes for `user_id`, checked against Block Kit."""
    client = runtime.clients.client_for(WS.team_id)
    publish_home(runtime, client, WS, user_id, PersonInfo(user_id, tz="Europe/Paris"))
    call = slack.calls_to("views.publish")[-1]
    assert call.params["user_id"] == user_id
    view: dict[str, Any] = call.params["view"]
    assert_valid_home(view)
    return view


def people_shown(view: dict[str, Any]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Per colleague on the Home: their section's text and the buttons under it."""
    blocks = view["blocks"]
    shown = {}
    for block, below in itertools.pairwise(blocks):
        buttons = below.get("elements", []) if below["type"] == "actions" else []
        listen_button = [b for b in buttons if b["action_id"] == LISTEN_OPEN]
        if block["type"] == "section" and listen_button:
            assert block["text"]["verbatim"] is True
            shown[listen_button[0]["value"]] = (block["text"]["text"], buttons)
    return shown


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_colleagues_are_ranked_by_weighted_history_and_at_most_eight_are_shown(
    db: Database,
) -> None:
    listen(db, ME, "UA00", ago(3), "more notice")  # 4, lately: 8
    ask(db, ME, "UB00", ago(20), done_at=ago(10))  # 3 + 2 kept, lately: 10
    ask(db, "UC00", ME, ago(200))  # 3
    for _ in range(3):
        thank(db, ME, ["UD00"], ago(5))  # 3 x 1, lately: 6
    thank(db, "UE00", [ME], ago(400))  # 1
    ask(db, ME, "UF00", ago(300))  # 3, ties with UC00
    ask(db, ME, "UG00", ago(200), done_at=ago(100))  # 3 + 2
    thank(db, ME, ["UH00"], ago(1))  # 1, lately: 2
    thank(db, "UH00", [ME], ago(2))  # 1, lately: 2
    listen(db, ME, "UI00", ago(1), status="declined")  # no answer: nothing
    listen(db, ME, "UI00", ago(1), status="asked")
    ask(db, "UJ00", ME, ago(30))  # 3, lately: 6, ties with UD00
    thank(db, "UK00", [ME], ago(120))
    thank(db, "UK00", [ME], ago(150))  # 2

    assert ranked(db) == [
        ("UB00", 10),
        ("UA00", 8),
        ("UD00", 6),
        ("UJ00", 6),
        ("UG00", 5),
        ("UH00", 4),
        ("UC00", 3),
        ("UF00", 3),
    ]
    everyone = relationships.your_people(db, WS, ME, NOW, limit=20)
    assert [c.user_id for c in everyone][-2:] == ["UK00", "UE00"]
    assert "UI00" not in {c.user_id for c in everyone}


def test_each_colleague_shows_what_they_did_lately_when_last_thanked_and_what_they_need(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    db = runtime.db
    now = clock()
    ana, ben = "UANA", "UBEN"
    ask(db, ME, ana, now - timedelta(days=60), done_at=now - timedelta(days=30))
    ask(db, ME, ana, now - timedelta(days=20), done_at=now - timedelta(days=2))
    ask(db, ME, ana, now - timedelta(days=200), done_at=now - timedelta(days=95))  # not lately
    ask(db, ana, ME, now - timedelta(days=1))  # asked of me: kept for nobody
    for days in (36, 50, 80):
        thank(db, ME, [ana], now - timedelta(days=days))
    thank(db, ME, [ana], now - timedelta(days=100))  # not lately
    thank(db, ana, [ME], now - timedelta(days=1))  # theirs, not mine
    listen(db, ME, ana, now - timedelta(days=40), "an older answer")
    said = "Two days' notice before a launch <!channel> " + "and a written brief " * 20
    listen(db, ME, ana, now - timedelta(days=15), said)
    listen(db, ME, ana, now - timedelta(days=1), status="asked")  # not answered yet
    ask(db, ME, ben, now - timedelta(days=3))

    shown = people_shown(home_of(runtime, slack, ME))

    assert list(shown) == [ana, ben]
    text, buttons = shown[ana]
    assert text.startswith(f"<@{ana}> · last thanked 5 weeks ago\n")
    assert "Last 90 days: 2 commitments kept for you · 3 appreciations from you" in text
    assert "What they need, as they told you 2 weeks ago: “Two days' notice" in text
    assert "an older answer" not in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    need = text.split("“", 1)[1].rstrip("”")
    assert len(need) <= 160 and need.endswith("…")
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Appreciate", APPRECIATE_PERSON, appreciate_person_value(ana)),
        ("Ask what they need", LISTEN_OPEN, ana),
    ]
    text, _ = shown[ben]
    assert text.startswith(f"<@{ben}> · not thanked yet\n")
    assert "no commitments kept for you · no appreciations from you" in text
    assert "What they need" not in text


def test_a_person_with_no_history_is_invited_to_appreciate_or_listen(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    thank(runtime.db, "UANA", ["UBEN"], clock())

    view = home_of(runtime, slack, ME)

    assert people_shown(view) == {}
    [invite] = [b for b in view["blocks"] if "*Your people*" in json.dumps(b)]
    assert invite["type"] == "context"
    assert "Appreciate" in json.dumps(invite) and "/listen" in json.dumps(invite)


def test_private_appreciation_between_me_and_a_colleague_counts_on_my_home(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    db = runtime.db
    thank(db, ME, ["UANA"], clock() - timedelta(days=10), private=True)
    thank(db, "UBEN", [ME], clock() - timedelta(days=3), private=True)

    shown = people_shown(home_of(runtime, slack, ME))

    assert set(shown) == {"UANA", "UBEN"}
    assert "last thanked 10 days ago" in shown["UANA"][0]
    assert "1 appreciation from you" in shown["UANA"][0]
    assert ranked(db) == [("UANA", 2), ("UBEN", 2)]


def test_private_appreciation_between_two_other_people_never_reaches_my_home(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    db = runtime.db
    for _ in range(5):
        thank(db, "UPAT", ["UQUI"], clock() - timedelta(days=1), private=True)
    thank(db, "UPAT", ["UQUI", ME], clock() - timedelta(days=1), private=True)
    thank(db, ME, ["UQUI"], clock() - timedelta(days=200))

    shown = people_shown(home_of(runtime, slack, ME))

    # Pat's thanks of both of us is between Pat and each of us; what Pat gave Quinn alone
    # is theirs: Quinn counts on my Home for my one old appreciation only.
    assert ranked(db) == [("UPAT", 2), ("UQUI", 1)]
    assert "no appreciations from you" in shown["UQUI"][0]
    assert ranked(db, "UQUI") == [("UPAT", 12), (ME, 1)]


def test_listen_answers_show_only_on_the_askers_home(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    db = runtime.db
    ana, third = "UANA", "UTHI"
    listen(db, ME, ana, clock() - timedelta(days=4), "a heads-up before big launches")
    thank(db, ana, [ME], clock() - timedelta(days=300))
    thank(db, third, [ana], clock() - timedelta(days=3))
    thank(db, third, [ME], clock() - timedelta(days=3))

    mine = people_shown(home_of(runtime, slack, ME))
    anas = home_of(runtime, slack, ana)
    thirds = home_of(runtime, slack, third)

    assert "a heads-up before big launches" in mine[ana][0]
    assert "heads-up" not in json.dumps(anas) and "heads-up" not in json.dumps(thirds)
    # On Ana's Home I count for my old thanks alone: the /listen is mine, not hers.
    assert dict(ranked(db, ana)) == {ME: 1, third: 2}
    assert set(people_shown(thirds)) == {ana, ME}


def test_forgotten_people_bots_and_deactivated_people_are_never_listed(db: Database) -> None:
    for colleague in ("UBOT", "ULEFT", "UFORGOT", "UKNOWN", "UNEW"):
        thank(db, colleague, [ME], ago(2))
        ask(db, ME, colleague, ago(2))
    person(db, "UBOT", is_bot=True)
    person(db, "ULEFT", deleted=True)
    person(db, "UKNOWN")
    person(db, "UFORGOT")
    lifecycle.forget(db, WS, "UFORGOT", NOW)

    listed = [uid for uid, _ in ranked(db)]

    assert listed == ["UKNOWN", "UNEW"]
    everyone = relationships.your_people(db, WS, ME, NOW, limit=100)
    assert not any(c.user_id.startswith(GHOST_PREFIX) for c in everyone)


def test_another_workspaces_history_never_appears(db: Database) -> None:
    thank(db, ME, ["UANA"], ago(3))
    # The same people elsewhere: much more history, Ana deactivated there, and a need.
    for _ in range(20):
        thank(db, ME, ["UANA", "UZED"], ago(1), workspace=ELSEWHERE)
        thank(db, "UZED", [ME], ago(1), workspace=ELSEWHERE)
    ask(db, ME, "UZED", ago(1), done_at=ago(1), workspace=ELSEWHERE)
    listen(db, ME, "UANA", ago(1), "something private", workspace=ELSEWHERE)
    person(db, "UANA", ELSEWHERE, deleted=True)

    [ana] = relationships.your_people(db, WS, ME, NOW)

    assert (ana.user_id, ana.score, ana.thanked_lately, ana.need) == ("UANA", 2, 1, None)
    assert ana.last_thanked_at == ago(3)
    assert ranked(db, "UZED") == []


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_the_same_few_statements_read_a_short_history_and_a_long_one(db: Database) -> None:
    thank(db, ME, ["UANA"], ago(3))
    listen(db, ME, "UANA", ago(3), "notice")
    with statements(db) as short:
        relationships.your_people(db, WS, ME, NOW)
    for n in range(60):
        colleague = f"U{n:03d}"
        thank(db, ME, [colleague, "UANA"], ago(n))
        ask(db, colleague, ME, ago(n), done_at=ago(n))
        listen(db, ME, colleague, ago(n), f"need {n}")
    with statements(db) as long:
        relationships.your_people(db, WS, ME, NOW)

    assert len(short) == len(long) <= 3
