"""Every Slack surface the manifest declares, driven through the real processes: `advocate
run --http` (its server and the worker process it forks) and `advocate run --socket`, on
SQLite and PostgreSQL. One story per process walks through every command, shortcut, button,
form, event and Workflow Builder step, and checks the Web API calls that come out and the
rows that result."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.blocks.checkin import goal_block_id
from bot.domain import Workspace
from bot.services import workspaces
from bot.services.schedule import week_of
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    Ask,
    BuyInGoal,
    InstalledWorkspace,
    Listen,
    Obstacle,
    Person,
    SettingsChange,
    SlackRequest,
    WorkspaceSetting,
)
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.helpers import block_text
from tests.e2e.processes import bot_env, running, stored, wait_until
from tests.e2e.test_home_and_settings import settings_values
from tests.support.blockkit import assert_valid_home, assert_valid_modal
from tests.support.fake_slack import Call, FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.slack_requests import (
    SlackClientForTests,
    block_actions_payload,
    event_body,
    global_shortcut_payload,
    message_shortcut_payload,
    slash_command_body,
    view_submission_payload,
)

ADMIN = "UADM"
LEFT = "U777"
BOT = "UBOT1"
GONE = "U778"
WS = Workspace("T111")
# Slack waits this long for an acknowledgement.
ACK_SECONDS = 3.0
MANIFEST = Path(__file__).parents[2] / "manifest.json"
ARGS = {
    "http": ("run", "--http", "--no-scheduler"),
    "socket": ("run", "--socket", "--no-scheduler"),
}


class Transport(Protocol):
    def command(self, **fields: Any) -> dict[str, Any]: ...

    def interactive(self, payload: dict[str, Any]) -> dict[str, Any]: ...

    def event(self, event: dict[str, Any], **envelope: Any) -> None: ...


class OverHttp:
    """Signed requests to the server, answered with the ack's body within Slack's 3 s."""

    def __init__(self, client: SlackClientForTests) -> None:
        self.client = client

    def command(self, **fields: Any) -> dict[str, Any]:
        return self._answer(*self.client.command(**fields))

    def interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._answer(*self.client.interactive(payload))

    def event(self, event: dict[str, Any], **envelope: Any) -> None:
        assert self._answer(*self.client.event(event, **envelope)) == {}

    def _answer(self, status: int, body: bytes) -> dict[str, Any]:
        assert status == 200 and (self.client.last_elapsed or 0) < ACK_SECONDS
        return dict(json.loads(body)) if body.strip() else {}


class OverSocket:
    """Envelopes on the Socket Mode connection, answered with the ack's payload within 3 s."""

    def __init__(self, socket_mode: FakeSocketMode) -> None:
        self.socket_mode = socket_mode

    def command(self, **fields: Any) -> dict[str, Any]:
        body = slash_command_body(**fields).decode()
        return self._send("slash_commands", dict(parse_qsl(body, keep_blank_values=True)), True)

    def interactive(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._send("interactive", payload, payload["type"] == "view_submission")

    def event(self, event: dict[str, Any], **envelope: Any) -> None:
        self._send("events_api", json.loads(event_body(event, **envelope)), False)

    def _send(self, kind: str, payload: dict[str, Any], responds: bool) -> dict[str, Any]:
        envelope = self.socket_mode.send_envelope(kind, payload, accepts_response_payload=responds)
        ack = self.socket_mode.wait_ack(envelope, timeout=ACK_SECONDS)
        return dict(ack.get("payload") or {})


class Story:
    """One person after another using the app; each step waits until its request is worked."""

    def __init__(self, slack: FakeSlack, db: Database, send: Transport) -> None:
        self.slack = slack
        self.db = db
        self.send = send
        self.commands: set[str] = set()
        self.shortcuts: set[str] = set()
        self.events: set[str] = set()
        self.steps: set[str] = set()

    def settle(self) -> None:
        assert wait_until(lambda: stored(self.db) == 0, 20), "a request was not worked"
        assert stored(self.db, "parked") == 0, "a request failed and was parked"

    def command(self, command: str, text: str, key: str, user: str = GIVER) -> str:
        """Type `command text`; what the person was told through its response_url, if anything."""
        self.commands.add(command)
        answer = self.send.command(
            command=command, text=text, user_id=user, response_url=self.slack.response_url(key)
        )
        assert answer == {}
        self.settle()
        return "\n".join(p["text"] for p in self.slack.response_url_posts(key))

    def click(self, action_id: str, user: str, key: str | None = None, **fields: Any) -> str:
        """Click in a message (or in `view=`); what the clicker was told, if anything."""
        if key is not None:
            fields["response_url"] = self.slack.response_url(key)
        payload = block_actions_payload(action_id=action_id, user_id=user, **fields)
        assert self.send.interactive(payload) == {}
        self.settle()
        return "\n".join(p["text"] for p in self.slack.response_url_posts(key)) if key else ""

    def shortcut(self, payload: dict[str, Any]) -> None:
        self.shortcuts.add(payload["callback_id"])
        assert self.send.interactive(payload) == {}
        self.settle()

    def submit(
        self, view: dict[str, Any], values: dict[str, Any], user: str, view_id: str
    ) -> dict[str, Any]:
        """Submit a modal the app opened; the ack's answer ({} when it closes)."""
        payload = view_submission_payload(
            callback_id=view["callback_id"],
            values=values,
            private_metadata=view.get("private_metadata", ""),
            user_id=user,
            view_id=view_id,
            blocks=view.get("blocks"),
        )
        answer = self.send.interactive(payload)
        self.settle()
        return answer

    def event(self, event: dict[str, Any], **envelope: Any) -> None:
        self.events.add(event["type"])
        self.send.event({"event_ts": f"{datetime.now(UTC).timestamp():.6f}", **event}, **envelope)
        self.settle()

    def opens(self, act: Callable[[], object]) -> dict[str, Any]:
        """The modal that `act` opens, checked against Block Kit."""
        view = dict(self.one_more("views.open", act).params["view"])
        assert_valid_modal(view)
        return view

    def publishes(self, act: Callable[[], object], user: str) -> dict[str, Any]:
        """The Home tab that `act` publishes for `user`, checked against Block Kit."""
        call = self.one_more("views.publish", act)
        assert call.params["user_id"] == user
        assert_valid_home(call.params["view"])
        return dict(call.params["view"])

    def one_more(self, method: str, act: Callable[[], object]) -> Call:
        before = len(self.slack.calls_to(method))
        act()
        calls = self.slack.calls_to(method)
        assert len(calls) == before + 1, [(c.method, c.params) for c in self.slack.calls[-6:]]
        return calls[-1]

    def told(self, user: str) -> str:
        """The last ephemeral message `user` got."""
        calls = [c for c in self.slack.calls_to("chat.postEphemeral") if c.params["user"] == user]
        return str(calls[-1].params["text"])

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.db.transaction() as session:
            return list(session.scalars(select(model).where(*where).order_by(model.id)))

    def thread(self, ask: Ask) -> list[str]:
        return [
            block_text(m) or m["text"]
            for m in self.slack.messages("C111")
            if m["thread_ts"] == ask.thread_ts and m["ts"] != ask.thread_ts
        ]

    def status_of(self, ask: Ask) -> str:
        [post] = [m for m in self.slack.messages("C111") if m["ts"] == ask.status_ts]
        return block_text(post)


def form(
    recipients: list[str], reason: str, channel: str | None, *, private: bool = False
) -> dict[str, Any]:
    """The appreciation modal's state, as Slack sends it on submission."""
    return {
        "recipients": {"value": {"type": "multi_users_select", "selected_users": recipients}},
        "reason": {"value": {"type": "plain_text_input", "value": reason}},
        "values": {
            "value": {"type": "multi_static_select", "selected_options": [{"value": "ownership"}]}
        },
        "channel": {"value": {"type": "conversations_select", "selected_conversation": channel}},
        "visibility": {
            "value": {
                "type": "radio_buttons",
                "selected_option": {"value": "private" if private else "public"},
            }
        },
    }


def text_input(block: str, value: str) -> dict[str, Any]:
    return {block: {"value": {"type": "plain_text_input", "value": value}}}


def picked_date(day: date) -> dict[str, Any]:
    return {"date": {"value": {"type": "datepicker", "selected_date": day.isoformat()}}}


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def appreciation_surfaces(story: Story) -> None:
    """/appreciate and its subcommands, both shortcuts, the modal and its button."""
    home = story.publishes(
        lambda: story.event({"type": "app_home_opened", "user": GIVER, "tab": "home"}), GIVER
    )
    assert "Appreciate someone" in str(home) and "Ask for a commitment" in str(home)
    assert "Workspace settings" not in str(home)
    [me] = story.rows(Person, Person.user_id == GIVER)
    assert me.used_app_at is not None and me.tz == "America/New_York"

    helped = story.command("/appreciate", "help", "help")
    assert "Appreciate the people who help you" in helped and "`#ownership`" in helped

    given = story.command("/appreciate", f"<@{ANA}> <@{BEN}> for the release notes #teamwork", "g")
    assert "is recorded" in given and "Shared in <#C111>" in given
    [thanks] = story.rows(Appreciation)
    assert (thanks.giver_id, thanks.company_values) == (GIVER, ["teamwork"])
    assert sorted(r.user_id for r in thanks.recipients) == [ANA, BEN]
    assert "the release notes" in block_text(story.slack.messages("C111")[-1])
    assert len(story.slack.messages(ANA)) == len(story.slack.messages(BEN)) == 1

    mine = story.command("/appreciate", "stats", "stats")
    assert f"Appreciation for <@{GIVER}>" in mine and "Given: this week *1*" in mine
    hers = story.command("/appreciate", f"stats <@{ANA}>", "stats-ana")
    assert f"Appreciation for <@{ANA}>" in hers and "Received: this week *1*" in hers
    top = story.command("/appreciate", "top all", "top")
    assert "Most appreciated of all time" in top and f"<@{ANA}>: 1 from 1 person" in top
    assert "Try `/appreciate top week`" in story.command("/appreciate", "top ever", "top-bad")

    modal = story.opens(lambda: story.command("/appreciate", "", "form"))
    assert block(modal, "channel")["element"]["initial_conversation"] == "C111"
    options = block(modal, "values")["element"]["options"]
    assert [o["value"] for o in options] == ["teamwork", "ownership"]
    refused = story.submit(modal, form([GIVER], "me", "C111"), GIVER, "VFORM")
    assert refused["response_action"] == "errors" and "recipients" in refused["errors"]
    assert story.submit(modal, form([BEN], "Covered the on-call", "C111"), GIVER, "VFORM") == {}
    [_, covered] = story.rows(Appreciation)
    assert covered.reason == "Covered the on-call" and covered.company_values == ["ownership"]
    assert "Shared in <#C111>" in story.told(GIVER)

    modal = story.opens(
        lambda: story.shortcut(
            global_shortcut_payload(callback_id="appreciate_someone", user_id=GIVER)
        )
    )
    posts_before = len(story.slack.messages("C111"))
    private = form([ANA], "Thanks for the candid feedback", "C111", private=True)
    assert story.submit(modal, private, GIVER, "VPRIVATE") == {}
    assert story.rows(Appreciation)[-1].is_private
    assert len(story.slack.messages("C111")) == posts_before
    assert "just between you" in block_text(story.slack.messages(ANA)[-1])

    message = {"text": "Fixed the export", "user": ANA, "ts": "1764000000.000200"}
    modal = story.opens(
        lambda: story.shortcut(
            message_shortcut_payload(
                callback_id="appreciate_message",
                message=message,
                user_id=GIVER,
                response_url=story.slack.response_url("appreciate-this"),
            )
        )
    )
    assert block(modal, "recipients")["element"]["initial_users"] == [ANA]
    linked = form([ANA], "This fix saved the renewal", "C111")
    assert story.submit(modal, linked, GIVER, "VMESSAGE") == {}
    last = story.rows(Appreciation)[-1]
    assert last.message_ts == "1764000000.000200"
    assert last.message_permalink and "p1764000000000200" in last.message_permalink
    assert last.message_permalink in block_text(story.slack.messages("C111")[-1])

    modal = story.opens(
        lambda: story.click("appreciate_open_modal", GIVER, view={"id": "VHOME", "type": "home"})
    )
    assert modal["callback_id"] == "appreciate_modal"


def ask_surfaces(story: Story) -> None:
    """/ask and its whole loop, the "Ask for a commitment" shortcut, the Home's ask button."""
    today = datetime.now(ZoneInfo("America/New_York")).date()
    due = today + timedelta(days=7)
    assert "Ask well" in story.command("/ask", "help", "ask-help")
    # A date that can't be read, or has passed, is explained and nothing is posted.
    posts = len(story.slack.messages("C111"))
    unread = story.command("/ask", f"<@{ANA}> review the quote by 12/4", "ask-unread")
    assert 'couldn\'t read "12/4" as a date' in unread
    passed = story.command(
        "/ask", f"<@{ANA}> review the quote by {today.year - 1}-01-05", "ask-past"
    )
    assert "has already passed" in passed
    assert story.rows(Ask) == [] and len(story.slack.messages("C111")) == posts
    asked = story.command("/ask", f"<@{ANA}> review the renewal quote by {due}", "ask")
    assert f"Asked <@{ANA}>" in asked
    [ask] = story.rows(Ask)
    assert (ask.asker_id, ask.helper_id, ask.request) == (GIVER, ANA, "review the renewal quote")
    assert ask.due_on == due and ask.timezone == "America/New_York"
    [parent] = [m for m in story.slack.messages("C111") if m["ts"] == ask.thread_ts]
    assert f"<@{GIVER}> asked <@{ANA}>" in parent["text"]
    assert "Can you commit?" in story.thread(ask)[0]

    story.click("ask_no_obstacles", ANA, value=str(ask.id))
    assert f"<@{ANA}> sees nothing in the way" in story.thread(ask)[-1]

    view = story.opens(lambda: story.click("ask_raise_obstacle", ANA, value=str(ask.id)))
    empty = story.submit(view, text_input("description", " "), ANA, "VOBSTACLE")
    assert empty["response_action"] == "errors" and "description" in empty["errors"]
    problem = text_input("description", "No access to the BI tool")
    assert story.submit(view, problem, ANA, "VOBSTACLE") == {}
    [obstacle] = story.rows(Obstacle)
    assert obstacle.status == "open" and obstacle.description == "No access to the BI tool"
    assert "sees an obstacle" in story.thread(ask)[-1]
    assert "obstacle open" in story.status_of(ask)
    story.click("ask_obstacle_handling", GIVER, value=str(obstacle.id))
    assert story.rows(Obstacle)[0].status == "handling"
    story.click("ask_obstacle_resolved", GIVER, value=str(obstacle.id))
    assert story.rows(Obstacle)[0].status == "resolved"
    assert "Status: *asked*" in story.status_of(ask)

    story.click("ask_discuss", ANA, value=str(ask.id))
    assert story.rows(Ask)[0].status == "discussing"
    assert "needs to discuss this" in story.thread(ask)[-1]

    told = story.click("ask_commit", BEN, "ben-commits", value=str(ask.id))
    assert told == f"Only <@{ANA}> can answer this."
    view = story.opens(lambda: story.click("ask_commit", ANA, value=str(ask.id)))
    assert block(view, "date")["element"]["initial_date"] == due.isoformat()
    late = story.submit(view, picked_date(today - timedelta(days=1)), ANA, "VCOMMIT")
    assert late["errors"] == {"date": "Pick today or a later day."}
    assert story.submit(view, picked_date(today + timedelta(days=5)), ANA, "VCOMMIT") == {}
    [ask] = story.rows(Ask)
    assert ask.status == "committed" and ask.committed_on == today + timedelta(days=5)
    assert "committed by" in story.status_of(ask)
    assert f"<@{ANA}> commits to this" in story.thread(ask)[-1]

    story.click("ask_done", ANA, value=str(ask.id))
    [ask] = story.rows(Ask)
    assert ask.status == "done" and ask.done_at is not None
    assert f"<@{ANA}> delivered" in story.thread(ask)[-1]
    assert "Status: *done*" in story.status_of(ask)

    view = story.opens(lambda: story.click("ask_appreciate", GIVER, value=str(ask.id)))
    assert block(view, "recipients")["element"]["initial_users"] == [ANA]
    thanks = form([ANA], "Fast, careful review", "C111")
    assert story.submit(view, thanks, GIVER, "VASKTHANKS") == {}
    assert story.rows(Appreciation)[-1].ask_id == ask.id
    assert "Shared in <#C111>" in story.told(GIVER)
    # The thanks closes the ask in its thread, shown in the (public) channel too, naming
    # the ask; the ask's status line says so, and Ana's DM links the ask.
    [thanked] = story.rows(Ask, Ask.id == ask.id)
    assert thanked.thanked_at is not None
    [post] = [m for m in story.slack.messages("C111") if "Fast, careful review" in str(m)]
    assert post["thread_ts"] == ask.thread_ts and post.get("subtype") == "thread_broadcast"
    assert "for the ask" in block_text(post) and "review the renewal quote" in block_text(post)
    assert f"<@{GIVER}> thanked <@{ANA}>" in story.status_of(thanked)
    dm = story.slack.messages(ANA)[-1]
    assert "for the ask <https://" in block_text(dm)

    message = {
        "text": f"<@{BEN}> could you send the signed NDA?",
        "user": GIVER,
        "ts": "1764000000.000100",
    }
    view = story.opens(
        lambda: story.shortcut(
            message_shortcut_payload(
                callback_id="ask_for_commitment", message=message, user_id=GIVER
            )
        )
    )
    assert block(view, "helper")["element"]["initial_user"] == BEN
    request = text_input("request", "could you send the signed NDA?")
    myself = {"helper": {"value": {"type": "users_select", "selected_user": GIVER}}, **request}
    refused = story.submit(view, myself, GIVER, "VASKNDA")
    assert refused["response_action"] == "errors" and "helper" in refused["errors"]
    ben = {"helper": {"value": {"type": "users_select", "selected_user": BEN}}, **request}
    assert story.submit(view, ben, GIVER, "VASKNDA") == {}
    nda = story.rows(Ask)[-1]
    assert (nda.helper_id, nda.thread_ts, nda.from_message) == (BEN, "1764000000.000100", True)
    assert len(story.thread(nda)) == 2

    view = story.opens(lambda: story.click("ask_decline", BEN, value=str(nda.id)))
    reason = text_input("reason", "No capacity until January")
    assert story.submit(view, reason, BEN, "VDECLINE") == {}
    nda = story.rows(Ask)[-1]
    assert nda.status == "declined" and nda.decline_reason == "No capacity until January"
    assert "No capacity until January" in story.thread(nda)[-1]

    view = story.opens(
        lambda: story.click("home_new_ask", GIVER, view={"id": "VHOME", "type": "home"})
    )
    faq = {
        "helper": {"value": {"type": "users_select", "selected_user": ANA}},
        **text_input("request", "draft the launch FAQ"),
        "channel": {"value": {"type": "conversations_select", "selected_conversation": "C111"}},
    }
    assert story.submit(view, faq, GIVER, "VASKHOME") == {}
    faq_ask = story.rows(Ask)[-1]
    assert (faq_ask.request, faq_ask.channel_id, faq_ask.status) == (
        "draft the launch FAQ",
        "C111",
        "asked",
    )
    assert f"Asked <@{ANA}>" in story.told(GIVER)
    story.click("ask_cancel", GIVER, value=str(faq_ask.id))
    assert story.rows(Ask)[-1].status == "cancelled"
    assert "cancelled this ask" in story.thread(faq_ask)[-1]


def listen_surfaces(story: Story) -> None:
    """/listen and its loop: refusals, the colleague's answer or "not now", "I'll act on it",
    "Thank them", the check-in's follow-up, and the form from the Home."""
    week = week_of(datetime.now(UTC), ZoneInfo("America/New_York"))
    assert "Listen first" in story.command("/listen", "help", "listen-help")
    refusals = {
        f"<@{GIVER}>": "You can't ask yourself",
        "<!subteam^S1|@sales> <@U222>": "not a group or a whole channel",
        "<!channel>": "not a group or a whole channel",
        " ".join(f"<@U90{n}>" for n in range(6)): "ask at most 5 at once",
        f"<@{BOT}>": "is a bot",
        f"<@{GONE}>": "is no longer active here",
        "<@U999>": "couldn't find <@U999>",
    }
    dms = {uid: len(story.slack.messages(uid)) for uid in (ANA, BEN, BOT, GONE)}
    for n, (text, reason) in enumerate(refusals.items()):
        assert reason in story.command("/listen", text, f"listen-no-{n}")
    assert story.rows(Listen) == []
    assert {uid: len(story.slack.messages(uid)) for uid in dms} == dms

    sent = story.command("/listen", f"<@{ANA}> <@{BEN}> about the quarterly close", "listen")
    assert sent.startswith("Sent.") and f"<@{ANA}>, <@{BEN}>" in sent
    ana_ask, ben_ask = story.rows(Listen)
    assert (ana_ask.asker_id, ana_ask.colleague_id, ana_ask.topic) == (
        GIVER,
        ANA,
        "about the quarterly close",
    )
    question = story.slack.messages(ANA)[-1]
    assert f"What do you need from <@{GIVER}> to do your best work?" in block_text(question)
    again = story.command("/listen", f"<@{ANA}>", "listen-again")
    assert f"You asked <@{ANA}> what they need on" in again and "ask again from" in again
    assert len(story.rows(Listen)) == 2 and story.slack.messages(ANA)[-1] == question

    told = story.click("listen_answer", BEN, "ben-answers-ana's", value=str(ana_ask.id))
    assert told == f"Only <@{ANA}> can answer this."
    # A double click on Answer opens two forms; only one answer is recorded.
    form = story.opens(
        lambda: story.click("listen_answer", ANA, "ana-answers", value=str(ana_ask.id))
    )
    second = story.opens(
        lambda: story.click("listen_answer", ANA, "ana-again", value=str(ana_ask.id))
    )
    empty = story.submit(form, text_input("need", " "), ANA, "VNEED")
    assert empty["response_action"] == "errors" and "need" in empty["errors"]
    answer = {
        **text_input("need", "The numbers by the 3rd <!here>"),
        **text_input("obstacle", "Late changes"),
        **text_input("preference", ""),
    }
    assert story.submit(form, answer, ANA, "VNEED") == {}
    [ana_ask, _] = story.rows(Listen)
    assert (ana_ask.status, ana_ask.need, ana_ask.obstacle, ana_ask.preference) == (
        "answered",
        "The numbers by the 3rd <!here>",
        "Late changes",
        None,
    )
    heard = story.slack.messages(GIVER)[-1]
    assert f"<@{ANA}> told you what they need" in block_text(heard)
    assert "The numbers by the 3rd &lt;!here&gt;" in block_text(heard)
    [replaced] = story.slack.response_url_posts("ana-answers")
    assert replaced["replace_original"] and "only to them" in replaced["text"]
    dms_before = len(story.slack.messages(GIVER))
    assert story.submit(second, text_input("need", "Something else"), ANA, "VNEED2") == {}
    assert story.rows(Listen)[0].need == "The numbers by the 3rd <!here>"
    assert len(story.slack.messages(GIVER)) == dms_before
    assert "already answered" in story.slack.messages(ANA)[-1]["text"]
    assert "already answered" in story.click(
        "listen_answer", ANA, "ana-late", value=str(ana_ask.id)
    )

    noted = story.click("listen_will_act", GIVER, "will-act", value=str(ana_ask.id))
    assert noted.startswith("Noted.")
    assert "means to act on it" in block_text(story.slack.messages(ANA)[-1])
    ana_dms = len(story.slack.messages(ANA))
    assert "Already noted" in story.click(
        "listen_will_act", GIVER, "will-act2", value=str(ana_ask.id)
    )
    assert len(story.slack.messages(ANA)) == ana_dms
    modal = story.opens(
        lambda: story.click(
            "appreciate_person", GIVER, value=ANA, view={"id": "VD", "type": "home"}
        )
    )
    assert block(modal, "recipients")["element"]["initial_users"] == [ANA]

    story.click("listen_not_now", BEN, "ben-not-now", value=str(ben_ask.id))
    assert story.rows(Listen)[1].status == "declined"
    [polite] = story.slack.response_url_posts("ben-not-now")
    assert polite["replace_original"] and "isn't a good time" in polite["text"]
    assert f"<@{BEN}> can't answer right now" in story.slack.messages(GIVER)[-1]["text"]

    value = f"{ana_ask.id}|{week}"
    for key in ("not-yet-1", "not-yet-1b"):
        assert "next week's check-in" in story.click(
            "listen_followup_not_yet", GIVER, key, value=value
        )
    assert story.rows(Listen)[0].not_yet == 1
    story.click("listen_followup_not_yet", GIVER, "not-yet-2", value=f"{ana_ask.id}|2099-W01")
    dropped = story.click(
        "listen_followup_not_yet", GIVER, "not-yet-3", value=f"{ana_ask.id}|2099-W02"
    )
    assert "third" in dropped
    [ana_ask, _] = story.rows(Listen)
    assert (ana_ask.not_yet, ana_ask.followup) == (3, "dropped")
    acted = story.click("listen_followup_yes", GIVER, "acted", value=f"{ana_ask.id}|2099-W03")
    assert f"I told <@{ANA}>" in acted
    assert story.rows(Listen)[0].followup == "acted"
    assert "acted on what you asked for" in block_text(story.slack.messages(ANA)[-1])

    on_home = {"id": "VHOME", "type": "home"}
    view = story.opens(lambda: story.click("listen_open", GIVER, value=BEN, view=on_home))
    assert block(view, "people")["element"]["initial_users"] == [BEN]
    people = {"people": {"value": {"type": "multi_users_select", "selected_users": [BEN]}}}
    assert story.submit(view, people, GIVER, "VLISTEN") == {}
    assert "said not now" in story.slack.messages(GIVER)[-1]["text"]
    assert len(story.rows(Listen)) == 2


def reaction_surfaces(story: Story) -> None:
    """A reaction appreciates a message's author; removed at once, it is withdrawn."""
    ts = story.slack.add_message("C111", user=BEN, text="Rebuilt the staging data")
    item = {"type": "message", "channel": "C111", "ts": ts}
    added = {"type": "reaction_added", "user": GIVER, "reaction": "raised_hands"}
    story.event({**added, "item_user": BEN, "item": item})
    [thanks] = story.rows(Appreciation, Appreciation.message_ts == ts)
    assert (thanks.giver_id, thanks.recipient_ids) == (GIVER, [BEN])
    assert thanks.reason == "Rebuilt the staging data"
    [reply] = [m for m in story.slack.messages("C111") if m["thread_ts"] == ts]
    assert f"<@{GIVER}> appreciated <@{BEN}> for this message" in reply["text"]
    story.event({**added, "type": "reaction_removed", "item_user": BEN, "item": item})
    assert story.rows(Appreciation, Appreciation.message_ts == ts) == []
    assert "took back their reaction" in story.slack.messages(BEN)[-1]["text"]


def checkin_surfaces(story: Story) -> None:
    """The check-in's goal picker, its outcome buttons, pause, stop and resume."""
    week = week_of(datetime.now(UTC), ZoneInfo("America/New_York"))
    picker = {"type": "users_select", "selected_user": ANA}
    home = story.publishes(
        lambda: story.click(
            "checkin_goal", GIVER, "goal", block_id=goal_block_id(week), extra_action=picker
        ),
        GIVER,
    )
    assert f"<@{ANA}>" in str(home)
    [noted] = story.slack.response_url_posts("goal")
    assert f"Noted: your buy-in goal this week is <@{ANA}>" in noted["text"]
    [goal] = story.rows(BuyInGoal)
    assert (goal.user_id, goal.week, goal.target_user_id) == (GIVER, week, ANA)

    won = story.click("checkin_outcome_won", GIVER, "won", value=str(goal.id))
    assert f"You won <@{ANA}> over" in won
    assert story.rows(BuyInGoal)[0].outcome == "won"

    assert "paused for 4 weeks" in story.click("checkin_pause", GIVER, "pause", value=week)
    [me] = story.rows(Person, Person.user_id == GIVER)
    assert me.checkins_paused_until is not None and not me.checkins_stopped
    assert "Check-ins are off" in story.click("checkin_stop", GIVER, "stop", value=week)
    [me] = story.rows(Person, Person.user_id == GIVER)
    assert me.checkins_stopped
    home = story.publishes(
        lambda: story.click("checkin_resume", GIVER, view={"id": "VHOME", "type": "home"}), GIVER
    )
    [me] = story.rows(Person, Person.user_id == GIVER)
    assert not me.checkins_stopped and me.checkins_paused_until is None
    assert "checkin_pause" in str(home)


def settings_surfaces(story: Story) -> None:
    """Workspace settings (admins only) and each person's own check-in schedule."""
    home = story.publishes(
        lambda: story.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}), ADMIN
    )
    assert "Workspace settings" in str(home)

    on_home = {"id": "VHOME", "type": "home"}
    dms_before = len(story.slack.messages(GIVER))
    opened_before = len(story.slack.calls_to("views.open"))
    story.click("settings_open", GIVER, view=on_home)
    assert "Only workspace admins" in story.slack.messages(GIVER)[dms_before]["text"]
    assert len(story.slack.calls_to("views.open")) == opened_before
    modal = story.opens(lambda: story.click("settings_open", ADMIN, view=on_home))
    assert modal["callback_id"] == "settings_modal"

    forged = story.submit(modal, settings_values(), GIVER, "VSETTINGS")
    assert forged["response_action"] == "errors"
    wrong = story.submit(modal, settings_values(timezone="Mars/Olympus"), ADMIN, "VSETTINGS")
    assert "not a timezone" in wrong["errors"]["timezone"]
    assert story.rows(WorkspaceSetting) == []
    home = story.publishes(
        lambda: story.submit(modal, settings_values(), ADMIN, "VSETTINGS"), ADMIN
    )
    [saved] = story.rows(WorkspaceSetting)
    assert saved.overrides["timezone"] == "Europe/Paris" and saved.updated_by == ADMIN
    [change] = story.rows(SettingsChange)
    assert change.user_id == ADMIN and change.changes["daily_limit"] == {"from": 10, "to": 3}
    assert "`#customer-first`" in story.command("/appreciate", "help", "help-after")

    modal = story.opens(lambda: story.click("checkin_schedule_open", GIVER, view=on_home))
    schedule = {
        "day": {"value": {"type": "static_select", "selected_option": {"value": "wed"}}},
        "time": {"value": {"type": "timepicker", "selected_time": "16:45"}},
    }
    home = story.publishes(lambda: story.submit(modal, schedule, GIVER, "VSCHEDULE"), GIVER)
    assert "Wednesdays at 16:45 your time" in json.dumps(home)
    [me] = story.rows(Person, Person.user_id == GIVER)
    assert (me.checkin_day, me.checkin_time) == ("wed", "16:45")


def step_surfaces(story: Story) -> None:
    """Workflow Builder's two steps: each run recorded and posted, and ended once."""
    slack = story.slack
    outputs = [{"name": "permalink", "type": "string"}]
    inputs = {"giver": BEN, "recipients": [ANA], "reason": "the onboarding", "channel": "C111"}
    # The values as the settings story left them.
    run = slack.execute("appreciate", {**inputs, "value": "teamwork"}, output_parameters=outputs)
    story.steps.add("appreciate")
    story.event(run)
    thanks = story.rows(Appreciation, Appreciation.giver_id == BEN)[-1]
    assert thanks.company_values == ["teamwork"] and thanks.reason == "the onboarding"
    done = slack.execution(run["function_execution_id"])
    assert done.state == "completed" and "archives/C111" in str(done.outputs)
    refused = slack.execute("appreciate", {**inputs, "recipients": [BOT]})
    story.event(refused)
    assert "is a bot" in str(slack.execution(refused["function_execution_id"]).error)

    helper = [{"name": "committed_by", "type": "slack#/types/date"}, {"name": "helper"}]
    asked = {"asker": BEN, "helper": ANA, "request": "send the onboarding plan", "channel": "C111"}
    run = slack.execute("ask_for_commitment", asked, output_parameters=helper)
    story.steps.add("ask_for_commitment")
    story.event(run)
    [ask] = story.rows(Ask, Ask.request == "send the onboarding plan")
    assert "Can you commit?" in story.thread(ask)[0]
    day = datetime.now(ZoneInfo("Europe/Paris")).date() + timedelta(days=2)
    view = story.opens(lambda: story.click("ask_commit", ANA, value=str(ask.id)))
    assert story.submit(view, picked_date(day), ANA, "VSTEP") == {}
    done = slack.execution(run["function_execution_id"])
    assert done.state == "completed"
    assert done.outputs == {"committed_by": day.isoformat(), "helper": ANA}


def lifecycle_events(story: Story) -> None:
    """People changing, and the app leaving the workspace (uninstalled, token revoked)."""
    left = {"id": LEFT, "team_id": "T111", "name": "left", "deleted": True, "is_bot": False}
    story.event({"type": "user_change", "user": {**left, "tz": "Europe/Berlin"}})
    [person] = story.rows(Person, Person.user_id == LEFT)
    assert person.deleted and person.tz == "Europe/Berlin"

    def installed() -> bool:
        [row] = story.rows(InstalledWorkspace, InstalledWorkspace.team_id == "T111")
        return row.uninstalled_at is None

    story.event({"type": "tokens_revoked", "tokens": {"oauth": ["UOLD"]}})
    assert installed()
    story.event({"type": "app_uninstalled"})
    assert not installed()
    workspaces.ensure(story.db, WS, "Example", datetime.now(UTC))
    story.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}})
    assert not installed()


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_every_surface_works_through_the_real_processes(
    slack: FakeSlack, db: Database, tmp_path: Path, mode: str
) -> None:
    """Each surface does what the in-process tests prove, and every request is stored,
    worked (over HTTP by the forked worker process, not the server) and done."""
    slack.add_user(ADMIN, name="admin", is_admin=True, tz="Europe/Paris")
    slack.add_user(BOT, name="deploybot", is_bot=True)
    slack.add_user(GONE, name="gone", deleted=True)
    with FakeSocketMode() as socket_mode:
        extra = {"ADVOCATE_VALUES": "teamwork,ownership"}
        if mode == "socket":
            slack.use_socket_mode(socket_mode)
            extra["SLACK_APP_TOKEN"] = "xapp-1-test"
        with running(bot_env(slack, db, **extra), tmp_path, *ARGS[mode]) as bot:
            try:
                if bot.client is not None:
                    send: Transport = OverHttp(bot.client)
                else:
                    socket_mode.wait_connected(1, timeout=30)
                    send = OverSocket(socket_mode)
                story = Story(slack, db, send)
                appreciation_surfaces(story)
                ask_surfaces(story)
                listen_surfaces(story)
                reaction_surfaces(story)
                checkin_surfaces(story)
                settings_surfaces(story)
                step_surfaces(story)
                lifecycle_events(story)
            finally:
                log = bot.stop(signal.SIGKILL)
                print(log)  # pytest shows it when the story fails

    manifest = json.loads(MANIFEST.read_text())
    features = manifest["features"]
    assert story.commands == {c["command"] for c in features["slash_commands"]}
    assert story.shortcuts == {s["callback_id"] for s in features["shortcuts"]}
    assert story.events == set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert story.steps == set(manifest["functions"])
    requests = story.rows(SlackRequest)
    assert {r.kind for r in requests} == {"command", "shortcut", "action", "view", "event"}
    assert {(r.status, r.mode) for r in requests} == {("done", mode)}
    workers = {r.claimed_by.split(":")[1] for r in requests if r.claimed_by}
    if mode == "http":
        assert len(workers) == 1 and str(bot.process.pid) not in workers
    else:
        assert workers == {str(bot.process.pid)}
    assert "Traceback" not in log and " ERROR " not in log
    # Settings are saved once, by the worker, which logs what changed.
    assert re.search(rf"{ADMIN} changed settings of T111: \['\w", log), log
