"""Words said in a private conversation stay there, through the real `advocate run --http`
process and the real `advocate digest` and `advocate recap` commands.

The app is in the private channel #exec-staff. There Lynn writes that the support team is
being cut, and Alice reacts with :raised_hands:; Gloria appreciates Lynn with **Appreciate
this** on another message, with `/appreciate`, and by thanking her for an ask made there.
Each is counted like any other appreciation, but its words are seen only in #exec-staff and
by its own people: not in the digest, a recap, anyone else's Home, the leaderboard or
another channel. The same four in a public channel are quoted as they always were.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot.blocks.appreciation import (
    APPRECIATE_PERSON,
    PRIVATE_ELSEWHERE,
    PRIVATE_HINT,
    appreciate_person_value,
)
from bot.blocks.digest import digest_message
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import asks, digest
from bot.services.settings import for_workspace
from bot.store.db import Database
from bot.store.models import Appreciation, Ask
from tests.conftest import ANA, BEN, GIVER, AppServer, MovableClock
from tests.e2e.helpers import block_text
from tests.e2e.processes import bot_env, running, stored, wait_until
from tests.e2e.test_cli import advocate, clean_env
from tests.e2e.test_modal_and_shortcuts import submit
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack_requests import (
    SlackClientForTests,
    block_actions_payload,
    message_shortcut_payload,
    view_submission_payload,
)

CARA = "U444"
LYNN = "U555"
ALICE = "U666"
DAN = "U777"
EVE = "U888"
EXEC_STAFF = "CEXEC"  # the private channel
DIGEST = "CDIGEST"

CUT = "Heads up: the support team is being cut in March"
REORG = "the reorg numbers were exact to the cent"
MEMO = "drafting the layoff memo"
SEVERANCE = "prepare the severance letters"
SEVERANCE_THANKS = "the severance letters were flawless"
# Each secret, and who may see it besides #exec-staff: the people of its appreciation or ask.
SECRETS = {
    CUT: {ALICE, LYNN},
    REORG: {GIVER, LYNN},
    MEMO: {GIVER, LYNN},
    SEVERANCE: {GIVER, LYNN},
    SEVERANCE_THANKS: {GIVER, LYNN},
}
PUBLIC = [
    "Shipped the invoice fix",  # a reaction
    "the release checklist saved the launch",  # Appreciate this
    "for the public roadmap walkthrough",  # /appreciate
    "the pricing page update was quick",  # an ask's thanks
]


class Person:
    """Someone using the app through the real process; each step waits until it is worked."""

    def __init__(self, user_id: str, client: SlackClientForTests, slack: FakeSlack, db: Database):
        self.user_id = user_id
        self.client = client
        self.slack = slack
        self.db = db

    def settle(self) -> None:
        assert wait_until(lambda: stored(self.db) == 0, 30), "a request was not worked"
        assert stored(self.db, "parked") == 0, "a request failed and was parked"

    def command(self, command: str, text: str, channel: str, **fields: Any) -> str:
        key = f"{self.user_id}-{channel}-{len(self.slack.calls)}"
        status, _ = self.client.command(
            command=command,
            text=text,
            user_id=self.user_id,
            channel_id=channel,
            response_url=self.slack.response_url(key),
            **fields,
        )
        assert status == 200
        self.settle()
        return "\n".join(p.get("text", "") for p in self.slack.response_url_posts(key))

    def react(self, author: str, channel: str, ts: str) -> None:
        event = {
            "type": "reaction_added",
            "user": self.user_id,
            "reaction": "raised_hands",
            "item_user": author,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{datetime.now(UTC).timestamp():.6f}",
        }
        assert self.client.event(event)[0] == 200
        self.settle()

    def click(self, action_id: str, value: str, channel: str) -> None:
        payload = block_actions_payload(
            action_id=action_id, value=value, user_id=self.user_id, channel_id=channel
        )
        assert self.client.interactive(payload)[0] == 200
        self.settle()

    def opens(self, payload: dict[str, Any]) -> dict[str, Any]:
        before = len(self.slack.calls_to("views.open"))
        assert self.client.interactive(payload)[0] == 200
        self.settle()
        calls = self.slack.calls_to("views.open")
        assert len(calls) == before + 1
        return dict(calls[-1].params["view"])

    def appreciate_this(self, channel: str, author: str, text: str) -> dict[str, Any]:
        ts = self.slack.add_message(channel, user=author, text=text)
        message = {"text": text, "user": author, "ts": ts}
        return self.opens(
            message_shortcut_payload(
                callback_id="appreciate_message",
                message=message,
                channel_id=channel,
                user_id=self.user_id,
                response_url=self.slack.response_url(f"{self.user_id}-{channel}-{ts}"),
            )
        )

    def submit(self, view: dict[str, Any], to: str, reason: str, channel: str) -> dict[str, Any]:
        """Send the appreciation form; the ack's answer ({} when it closes)."""
        values = {
            "recipients": {"value": {"type": "multi_users_select", "selected_users": [to]}},
            "reason": {"value": {"type": "plain_text_input", "value": reason}},
            "channel": {
                "value": {"type": "conversations_select", "selected_conversation": channel}
            },
            "visibility": {
                "value": {"type": "radio_buttons", "selected_option": {"value": "public"}}
            },
        }
        payload = view_submission_payload(
            callback_id=view["callback_id"],
            values=values,
            private_metadata=view.get("private_metadata", ""),
            user_id=self.user_id,
            view_id=f"V{len(self.slack.calls)}",
            blocks=view.get("blocks"),
        )
        status, body = self.client.interactive(payload)
        assert status == 200
        self.settle()
        return dict(json.loads(body)) if body.strip() else {}

    def ask_and_thank(self, helper: Person, request: str, thanks: str, channel: str) -> Ask:
        """`/ask` in `channel`, the helper marks it done, the asker thanks them there."""
        fields = {"channel_name": "privategroup"} if channel == EXEC_STAFF else {}
        assert "Asked" in self.command("/ask", f"<@{helper.user_id}> {request}", channel, **fields)
        ask = latest(self.db, Ask)
        helper.click("ask_done", str(ask.id), channel)
        view = self.opens(
            block_actions_payload(
                action_id="ask_appreciate",
                value=str(ask.id),
                user_id=self.user_id,
                channel_id=channel,
            )
        )
        if channel == EXEC_STAFF:
            # Shared anywhere but where it was asked, the thanks would quote the ask.
            refused = self.submit(view, helper.user_id, thanks, "C111")
            assert refused["response_action"] == "errors" and "channel" in refused["errors"]
        assert self.submit(view, helper.user_id, thanks, channel) == {}
        return ask


def latest(db: Database, model: Any) -> Any:
    with db.transaction() as session:
        return session.scalars(select(model).order_by(model.id.desc())).first()


def audience(call: Call) -> str | None:
    """Who sees what `call` sends: a user id, a channel id, or None for calls that send
    nothing people read. Every modal in this story is opened by Gloria."""
    params = call.params
    if call.method in ("chat.postMessage", "chat.update"):
        channel = str(params.get("channel"))
        return "U" + channel[1:] if channel.startswith("D") else channel
    if call.method == "chat.postEphemeral":
        return str(params.get("user"))
    if call.method == "views.publish":
        return str(params.get("user_id"))
    if call.method == "views.open":
        return GIVER
    if call.method == "response_url":  # keyed user-channel-n
        user, channel, _ = str(params["_key"]).split("-", 2)
        return channel if params.get("response_type") == "in_channel" else user
    return None


def test_words_said_in_a_private_channel_are_counted_but_stay_there(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    for user_id, name in (
        (CARA, "cara"),
        (LYNN, "lynn"),
        (ALICE, "alice"),
        (DAN, "dan"),
        (EVE, "eve"),
    ):
        slack.add_user(user_id, name=name, tz="Europe/London")
    slack.set_channel(EXEC_STAFF, is_member=True, is_private=True)
    slack.set_channel(DIGEST, is_member=True)
    # The digest due at the very end of the week: whichever way a week's digest is counted,
    # this week's holds what happens now.
    env = bot_env(slack, db, ADVOCATE_DIGEST_DAY="sun", ADVOCATE_DIGEST_TIME="23:59")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as bot:
        client = bot.client
        assert isinstance(client, SlackClientForTests)
        gloria, lynn, alice, ben, cara, eve = (
            Person(user_id, client, slack, db) for user_id in (GIVER, LYNN, ALICE, BEN, CARA, EVE)
        )
        try:
            # A reaction, in #exec-staff and in a public channel.
            alice.react(LYNN, EXEC_STAFF, slack.add_message(EXEC_STAFF, user=LYNN, text=CUT))
            ben.react(ANA, "C111", slack.add_message("C111", user=ANA, text=PUBLIC[0]))

            # Appreciate this: in #exec-staff it can be shared there or nowhere else.
            view = gloria.appreciate_this(EXEC_STAFF, LYNN, "Here are the reorg numbers")
            refused = gloria.submit(view, LYNN, REORG, "C111")
            assert refused["response_action"] == "errors" and "channel" in refused["errors"]
            assert gloria.submit(view, LYNN, REORG, EXEC_STAFF) == {}
            view = gloria.appreciate_this("C111", DAN, "Release checklist, done")
            assert gloria.submit(view, DAN, PUBLIC[1], "C111") == {}

            # /appreciate typed in #exec-staff, and in a public channel.
            told = gloria.command(
                "/appreciate", f"<@{LYNN}> for {MEMO}", EXEC_STAFF, channel_name="privategroup"
            )
            assert f"Shared in <#{EXEC_STAFF}>" in told
            assert "Shared in <#C111>" in gloria.command(
                "/appreciate", f"<@{CARA}> {PUBLIC[2]}", "C111"
            )

            # An ask's thanks, in #exec-staff and in a public channel.
            private_ask = gloria.ask_and_thank(lynn, SEVERANCE, SEVERANCE_THANKS, EXEC_STAFF)
            gloria.ask_and_thank(eve, "update the pricing page", PUBLIC[3], "C111")

            # What everyone else reads: the leaderboard, stats, and every Home.
            top = cara.command("/appreciate", "top week", "C111")
            stats = cara.command("/appreciate", f"stats <@{LYNN}>", "C111")
            for user_id in (GIVER, ANA, BEN, CARA, LYNN, ALICE, DAN, EVE):
                event = {"type": "app_home_opened", "user": user_id, "tab": "home"}
                assert client.event(event)[0] == 200
            gloria.settle()
        finally:
            log = bot.stop()
            print(log)
    assert "Traceback" not in log and " ERROR " not in log

    # Counted like any other: Lynn was thanked four times, by two people.
    assert f"<@{LYNN}>: 4 from 2 people" in top
    assert "Received: this week *4*" in stats

    # Where the words from #exec-staff went: #exec-staff, and the people of each.
    seen: dict[str, set[str]] = {secret: set() for secret in SECRETS}
    for call in slack.calls:
        who = audience(call)
        sent = json.dumps(call.params)
        for secret in SECRETS:
            if who is not None and secret in sent:
                seen[secret].add(who)
    for secret, people in SECRETS.items():
        assert seen[secret] <= people | {EXEC_STAFF}, (secret, seen[secret])
    assert EXEC_STAFF in seen[REORG] and EXEC_STAFF in seen[MEMO] and LYNN in seen[CUT]
    [thanks_post] = [m for m in slack.messages(EXEC_STAFF) if SEVERANCE_THANKS in str(m)]
    assert thanks_post["thread_ts"] == private_ask.thread_ts
    assert thanks_post.get("subtype") != "thread_broadcast"

    # The digest, previewed and posted, and the recaps: counted, never quoted.
    preview = advocate("digest", "preview", env=env, cwd=tmp_path)
    as_json = advocate("digest", "preview", "--json", env=env, cwd=tmp_path)
    posted = advocate("digest", "post", "--channel", DIGEST, env=env, cwd=tmp_path)
    assert preview.returncode == as_json.returncode == posted.returncode == 0, (
        preview.stderr + as_json.stderr + posted.stderr
    )
    [digest_post] = slack.messages(DIGEST)
    digest = preview.stdout + as_json.stdout + json.dumps(digest_post)
    recaps = "".join(
        advocate("recap", "preview", "--user", user_id, env=env, cwd=tmp_path).stdout
        for user_id in (GIVER, LYNN, ALICE, CARA)
    )
    for secret in SECRETS:
        assert secret not in digest and secret not in recaps, secret
    assert "8 appreciations from 3 people to 5" in preview.stdout, preview.stdout
    for words in PUBLIC:
        assert words in preview.stdout and words in block_text(digest_post), words
    [lynn_line] = [b for b in digest_post["blocks"] if f"<@{LYNN}>" in json.dumps(b)][:1]
    assert "thanked in a private conversation" in block_text({"blocks": [lynn_line]}).lower()
    assert "lynn: thanked by" in preview.stdout
    assert "thanked in a private conversation" in preview.stdout.lower()

    # Recorded as said in private, and the rest as before.
    with db.transaction() as session:
        rows = list(session.scalars(select(Appreciation).order_by(Appreciation.id)))
        private_asks = list(session.scalars(select(Ask.said_in_private).order_by(Ask.id)))
    said_in_private = {a.reason: a.said_in_private for a in rows}
    assert said_in_private == {
        CUT: True,
        PUBLIC[0]: False,
        REORG: True,
        PUBLIC[1]: False,
        f"for {MEMO}": True,
        PUBLIC[2]: False,
        SEVERANCE_THANKS: True,
        PUBLIC[3]: False,
    }
    assert private_asks == [True, False]
    assert not any(a.is_private for a in rows)
    # The export is an admin's tool: it keeps the words, and says where they were said.
    exported = advocate("export", env=clean_env(DATABASE_URL=db.url), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert {a["reason"]: a["said_in_private"] for a in data["appreciations"]} == said_in_private
    assert [k["said_in_private"] for k in data["asks"]] == [True, False]


# The rules, in-process (the `server` fixture: the app on HTTP with the test clock, in week
# 2026-W48).
WEEK = "2026-W48"


def week_digest(runtime: Runtime) -> digest.Digest | None:
    """The digest scheduled in WEEK, as the workspace's schedule has it."""
    config = for_workspace(runtime.db, WS, runtime.settings)
    return digest.build(runtime.db, WS, digest.window(runtime.db, WS, WEEK, config), "UTC")


WS = Workspace("T111")


def said_in_private(db: Database) -> dict[str, bool]:
    with db.transaction() as session:
        return {a.reason: a.said_in_private for a in session.scalars(select(Appreciation))}


def test_reactions_in_a_group_dm_a_dm_or_where_slack_cannot_say_are_counted_not_quoted(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_channel("GMPIM", is_mpim=True)
    slack.set_channel("CQUIET")
    said = {
        "GMPIM": ("said in a group DM", ANA, GIVER),
        "D333": ("said in a DM", BEN, ANA),
        "CQUIET": ("said where Slack is down", ANA, BEN),
        "C111": ("said in public", BEN, GIVER),
    }
    for channel, (text, author, giver) in said.items():
        ts = slack.add_message(channel, user=author, text=text)
        if channel == "CQUIET":
            slack.fail_next("conversations.info", status=503)
        event = {
            "type": "reaction_added",
            "user": giver,
            "reaction": "raised_hands",
            "item_user": author,
            "item": {"type": "message", "channel": channel, "ts": ts},
        }
        assert server.client.event(event)[0] == 200
        server.drain()

    assert said_in_private(server.runtime.db) == {
        "said in a group DM": True,
        "said in a DM": True,
        "said where Slack is down": True,
        "said in public": False,
    }
    built = week_digest(server.runtime)
    assert built is not None and built.total == 4
    by_person = {a.user_id: a for a in built.advocates}
    assert by_person[ANA].thanked_in_private and by_person[ANA].quote == ""
    assert by_person[BEN].quote == "said in public"
    assert "said in a" not in str(digest_message(built))


def test_appreciate_typed_in_a_group_dm_is_said_in_private_as_its_payload_says(
    server: AppServer, slack: FakeSlack
) -> None:
    slack.set_channel("GMPIM", is_mpim=True)
    for channel, name, reason in (
        ("GMPIM", "mpdm-gloria--ana--ben-1", "for the group DM favour"),
        ("C111", "random", "for the public favour"),
    ):
        server.client.command(
            command="/appreciate",
            text=f"<@{ANA}> {reason}",
            user_id=GIVER,
            channel_id=channel,
            channel_name=name,
            response_url=slack.response_url(channel),
        )
        server.drain()

    assert said_in_private(server.runtime.db) == {
        "for the group DM favour": True,
        "for the public favour": False,
    }
    # Posted where it was typed; the payload said enough, Slack was not asked.
    assert any("group DM favour" in block_text(m) for m in slack.messages("GMPIM"))
    assert not any("group DM favour" in block_text(m) for m in slack.messages("C111"))
    assert slack.calls_to("conversations.info") == []


def test_thanks_for_an_ask_made_in_private_is_shared_there_or_nowhere(
    server: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    """From the Home or a check-in, "Appreciate" with the ask it is for: the form says where
    it may be shared, refuses another channel, and the thanks is kept from the digest."""
    slack.set_channel("CPRIV", is_private=True)
    db = server.runtime.db
    made = []
    for n, recorded in enumerate((True, None)):  # an ask from before this was recorded: None
        ask, _ = asks.start(
            db,
            WS,
            asker_id=GIVER,
            helper_id=ANA,
            request=f"plan the cuts, part {n}",
            channel_id="CPRIV",
            due_on=None,
            timezone="UTC",
            source_key=f"ask:{n}",
            now=clock(),
            said_in_private=bool(recorded),
        )
        with db.transaction() as session:
            session.execute(
                update(Ask).where(Ask.id == ask.id).values(said_in_private=recorded, status="done")
            )
        made.append(ask)

    views = []
    for n, ask in enumerate(made, start=1):
        click = block_actions_payload(
            action_id=APPRECIATE_PERSON,
            value=appreciate_person_value(ANA, [ask.id]),
            user_id=GIVER,
            view={"id": "VHOME", "type": "home"},
        )
        assert server.client.interactive(click)[0] == 200
        server.drain()
        view = slack.wait_for("views.open", n)[-1].params["view"]
        assert json.loads(view["private_metadata"])["said_in"] == "CPRIV"
        [channel] = [b for b in view["blocks"] if b.get("block_id") == "channel"]
        assert channel["hint"]["text"] == PRIVATE_HINT
        views.append(view)
    # Slack was asked about the ask from before only.
    assert [c.params["channel"] for c in slack.calls_to("conversations.info")] == ["CPRIV"]

    status, body = submit(server, views[0], recipients=[ANA], reason="cut well", channel="C111")
    assert status == 200 and json.loads(body) == {
        "response_action": "errors",
        "errors": {"channel": PRIVATE_ELSEWHERE},
    }
    status, body = submit(server, views[0], recipients=[ANA], reason="cut well", channel=None)
    assert status == 200 and body in (b"", b"{}")
    server.drain()
    assert said_in_private(db) == {"cut well": True}
    assert not [m for m in slack.messages("C111") if "cut well" in str(m)]
    assert "cut well" in block_text(slack.messages(ANA)[-1])  # hers to read
    built = week_digest(server.runtime)
    assert built is not None and built.advocates[0].thanked_in_private
    assert "cut well" not in str(digest_message(built))
