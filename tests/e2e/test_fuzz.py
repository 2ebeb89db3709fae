"""Hostile input through the real HTTP server, with valid signatures.

Slack signs what it sends, but what it sends is shaped by people: text typed into commands
and modals, messages picked for shortcuts, whatever a buggy or hostile client puts in a
button's value or a modal's state. Every surface is fuzzed here with hypothesis. For every
input the server must answer with a decision (200, or 400/401/404), never a 500 and never a
traceback, and `/healthz` must still answer 200. At the end of each test nothing the app
said to anyone may carry a traceback, and an ordinary `/appreciate help` must still be
answered.

The fuzz tests keep the few envelope fields Bolt parses itself (`user`, `team`, `channel`
and `enterprise`, also inside an event; `authorizations`, `event`, `actions`, `view`,
`response_urls`) shaped as Slack always sends them. Bodies that break that promise, and
bodies that are no JSON or form at all, crash the app today: they are pinned down at the
end of the file as expected failures, until the app refuses them with a 400.

`ADVOCATE_FUZZ_EXAMPLES` sets the examples per test (default 25); the block-action and
modal tests send each example to every action or callback id, with a third as many examples.
A longer run: `ADVOCATE_FUZZ_EXAMPLES=500 pytest tests/e2e/test_fuzz.py -k "not postgres"`.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import Workspace
from bot.services import checkins
from tests.conftest import (
    ANA,
    BEN,
    FUZZ_KNOWN_CRASHES,
    FUZZ_REPORT,
    GIVER,
    TEAM,
    AppServer,
)
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_actions_payload,
    event_body,
    function_executed_event,
    global_shortcut_payload,
    interactive_body,
    message_shortcut_payload,
    slash_command_body,
    view_submission_payload,
)

EVENTS_PATH = "/slack/events"
EXAMPLES = int(os.environ.get("ADVOCATE_FUZZ_EXAMPLES", "25"))
# Tests whose every example sends one input per action id or callback id.
WIDE_EXAMPLES = max(1, EXAMPLES // 3)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# Bolt answers a request no listener matches with 404 and a bad signature with 401; a body
# the app cannot read deserves a 400. Anything else means the app broke.
ACCEPTABLE = {200, 400, 401, 404}
# Work continues after the ack (users.info, posts, response_url). The final check waits
# until the fake Slack has heard nothing new for this long.
QUIET = 0.3
SETTLE_TIMEOUT = 20.0
A_MEGABYTE = 1_000_000
# Whatever text was fuzzed in, nothing the app says in Slack may ping a crowd. (Modals may
# hold it as typed: an input's initial value pings no one.)
POSTS = {"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"}
CROWD_PING = re.compile(r"<!(?:here|channel|everyone|subteam)")

tried: Counter[str] = Counter()
KNOWN_CRASHES = FUZZ_KNOWN_CRASHES  # reported apart: they are not fuzz inputs
answered: dict[str, Counter[int]] = {}


# ---------------------------------------------------------------------------- strategies

HOSTILE_FRAGMENTS = [
    "<!channel>",
    "<!here>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S1|@t>",
    "<!date^1392734382^{date}|Feb 18>",
    f"<@{ANA}>",
    f"<@{BEN}|ben>",
    f"<@{GIVER}>",
    "<@UBOT>",
    "<@U999>",
    "<@W123|>",
    "<@",
    "<#C111|general>",
    "<#C1|x>",
    "<https://example.com|x>",
    "&amp;",
    "&lt;",
    "&gt;",
    "&",
    "<",
    ">",
    "|",
    "@here",
    "@channel",
    "@everyone",
    "#teamwork",
    "#ownership",
    "#nope",
    " by Friday",
    " by tomorrow",
    " by 2026-13-45",
    " by Nov 20",
    " by EOD",
    " by ",
    "help",
    "stats",
    "top",
    " all",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u202e",  # right-to-left override
    "\u2067",  # right-to-left isolate
    "\u200f",  # right-to-left mark
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    "שלום",
    "مرحبا",
    "👍🏽",
    "🏳️‍🌈",
    "%s",
    "%(name)s",
    "{0}",
    "\\",
    '"',
    "'",
]

fragment = st.one_of(st.sampled_from(HOSTILE_FRAGMENTS), st.text(max_size=8))
fragment_soup = st.lists(fragment, max_size=30).map("".join)
# 3,000 to 4,000 characters: past every length limit the app and Slack set on text.
long_text = st.tuples(st.sampled_from([*HOSTILE_FRAGMENTS, "x", "é"]), st.integers(3000, 4000)).map(
    lambda piece_and_size: (piece_and_size[0] * 4000)[: piece_and_size[1]]
)
hostile_text = st.one_of(fragment_soup, st.text(), long_text)
# Command text that starts the way real commands do, so fuzzing gets past the parser.
COMMAND_STARTS = [
    "",
    f"<@{ANA}> ",
    f"<@{ANA}|ana> <@{BEN}> ",
    f"<@{GIVER}> ",
    "<!channel> ",
    "<!subteam^S1|@t> ",
    "help ",
    "stats ",
    "top ",
    " ",
]
command_text = st.tuples(st.sampled_from(COMMAND_STARTS), hostile_text).map("".join)

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_FRAGMENTS),
    st.sampled_from(["1", "0", "-1", "2", "99999999999999999999", "1.5", "1e9", " 1 "]),
)
junk = st.recursive(
    json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Bolt reads these fields itself (in an event too) before any listener runs; Slack always
# sends them as objects or strings, and so do the fuzz tests. Other types: see the end.
ENVELOPE_OBJECTS = {"user", "team", "channel", "enterprise", "view", "container", "message"}
envelope_junk = st.one_of(
    st.none(), st.text(max_size=20), st.dictionaries(st.text(max_size=8), junk, max_size=4)
)

REMOVE = object()  # an edit that deletes the field instead of setting it
Change = tuple[tuple[str, ...], Any]


@st.composite
def edit(draw: st.DrawFn, paths: list[tuple[str, ...]]) -> Change:
    path = draw(st.sampled_from(paths))
    replacement = envelope_junk if path[-1] in ENVELOPE_OBJECTS else junk
    return path, draw(st.one_of(st.just(REMOVE), replacement))


def edits_of(paths: list[tuple[str, ...]]) -> st.SearchStrategy[list[Change]]:
    """Up to four edits of `paths`: each deletes the field or sets it to junk."""
    return st.lists(edit(paths), max_size=4)


def apply_edits(payload: dict[str, Any], edits: list[Change]) -> dict[str, Any]:
    """A copy of `payload` with the edits made; an edit under a field that is no longer an
    object (an earlier edit replaced it) is skipped."""
    edited = copy.deepcopy(payload)
    for path, value in edits:
        parent: Any = edited
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if value is REMOVE:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = copy.deepcopy(value)
    return edited


# ---------------------------------------------------------------------------- checks


def send(server: AppServer, surface: str, body: bytes, content_type: str) -> None:
    """Post one signed input: the answer must be a decision, not a crash, and the server
    must still be healthy afterwards."""
    tried[surface] += 1
    status, _, answer = server.client.post(EVENTS_PATH, body, content_type)
    answered.setdefault(surface, Counter())[status] += 1
    assert status in ACCEPTABLE, f"status {status} for {body[:300]!r}: {answer[:300]!r}"
    assert b"Traceback" not in answer, answer[:2000]
    health, _ = server.client.get("/healthz")
    assert health == 200, f"/healthz answered {health} after {body[:300]!r}"


def settle(slack: FakeSlack) -> None:
    """Wait until the app's background work has gone quiet."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    seen, quiet_since = len(slack.calls), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now_seen = len(slack.calls)
        if now_seen != seen:
            seen, quiet_since = now_seen, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET:
            return


def assert_still_serving(server: AppServer, slack: FakeSlack) -> None:
    """After the fuzzing: nothing said to anyone carried a traceback, and an ordinary
    command still gets its answer."""
    settle(slack)
    key = "probe-after-fuzz"
    body = slash_command_body(
        command="/appreciate", text="help", user_id=GIVER, response_url=slack.response_url(key)
    )
    assert server.client.post(EVENTS_PATH, body, FORM_CONTENT_TYPE)[0] == 200
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not slack.response_url_posts(key) and time.monotonic() < deadline:
        time.sleep(0.02)
    [reply] = slack.response_url_posts(key)
    assert "/appreciate" in reply["text"]
    for call in slack.calls:
        said = json.dumps(call.params, ensure_ascii=False, default=str)
        assert "Traceback" not in said, f"{call.method} leaked a traceback: {said[:2000]}"
        if call.method in POSTS:
            assert CROWD_PING.search(said) is None, f"{call.method} pings a crowd: {said[:2000]}"


@pytest.fixture(autouse=True)
def report_inputs_tried(request: pytest.FixtureRequest) -> Iterator[None]:
    """Show how many inputs were tried in pytest's summary, whatever the capture mode: each
    test hands its counts to its report, and tests/conftest.py sums them up in the summary
    (under pytest-xdist only the reports reach the process that writes it)."""
    tried.clear()
    answered.clear()
    yield
    counts = {
        surface: {
            "tried": count,
            "answered": {str(s): n for s, n in answered.get(surface, Counter()).items()},
        }
        for surface, count in tried.items()
    }
    if counts:
        request.node.user_properties.append((FUZZ_REPORT, counts))


def seed_an_ask_with_an_obstacle_and_a_goal(server: AppServer, slack: FakeSlack) -> None:
    """Ask 1 (Gloria asks Ana), obstacle 1 on it and Gloria's goal for this week, so that
    fuzzed ids reach the code that loads and changes them, not only the id parser."""
    body = slash_command_body(
        command="/ask",
        text=f"<@{ANA}> review the renewal quote by Dec 4",
        user_id=GIVER,
        response_url=slack.response_url("seed"),
    )
    assert server.client.post(EVENTS_PATH, body, FORM_CONTENT_TYPE)[0] == 200
    slack.wait_for("chat.postMessage", 2)  # the ask and its questions
    obstacle = view_submission_payload(
        callback_id="ask_obstacle_modal",
        values={"description": {"value": {"type": "plain_text_input", "value": "no access"}}},
        private_metadata=json.dumps({"ask_id": 1}),
        user_id=ANA,
    )
    assert server.client.interactive(obstacle)[0] == 200
    slack.wait_for("chat.postMessage", 3)
    workspace = Workspace(TEAM, None)
    checkins.set_goal(server.runtime.db, workspace, GIVER, "2026-W48", BEN, server.runtime.clock())


# ---------------------------------------------------------------------------- slash commands


@pytest.mark.parametrize("command", ["/appreciate", "/ask"])
def test_slash_commands_answer_any_text_without_breaking(
    server: AppServer, slack: FakeSlack, command: str
) -> None:
    @fuzz_settings(EXAMPLES)
    @given(text=command_text, user=st.sampled_from([GIVER, ANA, "U999", "UBOT"]))
    def one_command(text: str, user: str) -> None:
        body = slash_command_body(
            command=command, text=text, user_id=user, response_url=slack.response_url("fuzz")
        )
        send(server, f"{command} text", body, FORM_CONTENT_TYPE)

    one_command()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- shortcuts

SHORTCUT_PATHS: list[tuple[str, ...]] = [
    ("trigger_id",),
    ("user",),
    ("user", "id"),
    ("user", "team_id"),
    ("team",),
    ("team", "id"),
    ("action_ts",),
    ("token",),
    ("api_app_id",),
    ("enterprise",),
    ("is_enterprise_install",),
    ("unexpected",),
]
MESSAGE_SHORTCUT_PATHS = [
    *SHORTCUT_PATHS,
    ("channel",),
    ("channel", "id"),
    ("message",),
    ("message", "text"),
    ("message", "user"),
    ("message", "ts"),
    ("message", "blocks"),
    ("message", "thread_ts"),
    ("message_ts",),
    ("response_url",),
]


def test_global_shortcut_survives_mutated_fields(server: AppServer, slack: FakeSlack) -> None:
    @fuzz_settings(EXAMPLES)
    @given(edits=edits_of(SHORTCUT_PATHS), user=st.sampled_from([GIVER, ANA, "U999"]))
    def one_shortcut(edits: list[Change], user: str) -> None:
        payload = global_shortcut_payload(callback_id="appreciate_someone", user_id=user)
        body = interactive_body(apply_edits(payload, edits))
        send(server, "appreciate_someone shortcut", body, FORM_CONTENT_TYPE)

    one_shortcut()
    assert_still_serving(server, slack)


@pytest.mark.parametrize("callback_id", ["appreciate_message", "ask_for_commitment"])
def test_message_shortcuts_survive_any_message_and_mutated_fields(
    server: AppServer, slack: FakeSlack, callback_id: str
) -> None:
    @fuzz_settings(EXAMPLES)
    @given(
        text=command_text,
        author=st.sampled_from([GIVER, ANA, BEN, "UBOT", "U999"]),
        user=st.sampled_from([GIVER, ANA, "U999"]),
        channel=st.sampled_from(["C111", "G123", "D111", "C999"]),
        edits=edits_of(MESSAGE_SHORTCUT_PATHS),
    )
    def one_shortcut(text: str, author: str, user: str, channel: str, edits: list[Change]) -> None:
        payload = message_shortcut_payload(
            callback_id=callback_id,
            message={"text": text, "user": author, "ts": "1764082800.000100"},
            channel_id=channel,
            user_id=user,
            response_url=slack.response_url("fuzz"),
        )
        body = interactive_body(apply_edits(payload, edits))
        send(server, f"{callback_id} shortcut", body, FORM_CONTENT_TYPE)

    one_shortcut()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- block actions

ACTION_IDS = [
    "appreciate_open_modal",
    "checkin_goal",
    "checkin_outcome_won",
    "checkin_outcome_working",
    "checkin_outcome_skipped",
    "checkin_pause",
    "checkin_stop",
    "checkin_resume",
    "ask_no_obstacles",
    "ask_raise_obstacle",
    "ask_obstacle_handling",
    "ask_obstacle_resolved",
    "ask_commit",
    "ask_discuss",
    "ask_decline",
    "ask_done",
    "ask_cancel",
    "ask_appreciate",
    "settings_open",
    "checkin_schedule_open",
    "home_new_ask",
]
NUMBER_LIKE = ["1", "2", "0", "-1", "01", " 1", "1.0", "1e3", "99999999999999999999", "abc"]
BLOCK_IDS = [
    "checkin_goal|2026-W48",
    "checkin_goal|2026-W47",
    "checkin_goal|2026-W99",
    "checkin_goal|",
    "checkin_goal",
    "checkin_goal|garbage|more",
    "ask|1",
    "b",
    "",
]
BLOCK_ACTION_PATHS: list[tuple[str, ...]] = [
    ("trigger_id",),
    ("user",),
    ("user", "id"),
    ("team",),
    ("team", "id"),
    ("channel",),
    ("channel", "id"),
    ("container",),
    ("container", "message_ts"),
    ("message",),
    ("response_url",),
    ("unexpected",),
]


@st.composite
def garbage_click(draw: st.DrawFn) -> dict[str, Any]:
    """What a click carries: value, picked user, block id, who clicked and where."""
    return {
        "value": draw(st.one_of(st.none(), st.sampled_from(NUMBER_LIKE), hostile_text)),
        "selected_user": draw(
            st.one_of(st.none(), st.sampled_from([GIVER, ANA, BEN, "UBOT", "U999", ""]), junk)
        ),
        "block_id": draw(st.one_of(st.sampled_from(BLOCK_IDS), st.text(max_size=40), junk)),
        "user": draw(st.sampled_from([GIVER, ANA, BEN, "U999"])),
        "in_home_tab": draw(st.booleans()),
        "edits": draw(edits_of(BLOCK_ACTION_PATHS)),
    }


def click_payload(action_id: str, click: dict[str, Any], response_url: str) -> dict[str, Any]:
    picked = None
    if click["selected_user"] is not None:
        # A users_select reports the pick; buttons carry a value instead.
        picked = {"type": "users_select", "selected_user": click["selected_user"]}
    payload = block_actions_payload(
        action_id=action_id,
        value=click["value"],
        user_id=click["user"],
        block_id=click["block_id"],
        extra_action=picked,
        view={"type": "home", "blocks": [], "callback_id": ""} if click["in_home_tab"] else None,
        response_url=response_url,
    )
    return apply_edits(payload, click["edits"])


def test_every_button_and_picker_survives_garbage_values(
    server: AppServer, slack: FakeSlack
) -> None:
    seed_an_ask_with_an_obstacle_and_a_goal(server, slack)

    @fuzz_settings(WIDE_EXAMPLES)
    @given(clicks=st.lists(garbage_click(), min_size=len(ACTION_IDS), max_size=len(ACTION_IDS)))
    def one_click_per_action(clicks: list[dict[str, Any]]) -> None:
        for action_id, click in zip(ACTION_IDS, clicks, strict=True):
            payload = click_payload(action_id, click, slack.response_url("fuzz"))
            send(server, "block actions", interactive_body(payload), FORM_CONTENT_TYPE)

    one_click_per_action()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- view submissions

# Each modal's blocks, with the kinds of answer Slack reports for them.
MODAL_FIELDS: dict[str, dict[str, str]] = {
    "appreciate_modal": {
        "recipients": "selected_users",
        "reason": "value",
        "values": "selected_options",
        "channel": "selected_conversation",
        "visibility": "selected_option",
    },
    "ask_modal": {
        "helper": "selected_user",
        "request": "value",
        "due": "selected_date",
        "channel": "selected_conversation",
    },
    "ask_obstacle_modal": {"description": "value"},
    "ask_commit_modal": {"date": "selected_date"},
    "ask_decline_modal": {"reason": "value"},
    "settings_modal": {
        "digest_channel": "selected_conversation",
        "digest_day": "selected_option",
        "digest_time": "selected_time",
        "timezone": "value",
        "daily_limit": "value",
        "values": "value",
        "checkin_audience": "selected_option",
        "checkin_channel": "selected_conversation",
        "checkin_day": "selected_option",
        "checkin_time": "selected_time",
        "admins": "selected_users",
    },
    "checkin_schedule_modal": {"day": "selected_option", "time": "selected_time"},
}
people = st.sampled_from([GIVER, ANA, BEN, "UBOT", "U999"])
ANSWERS: dict[str, st.SearchStrategy[Any]] = {
    "value": hostile_text,
    "selected_user": people,
    "selected_users": st.lists(people, max_size=12),
    "selected_conversation": st.sampled_from(["C111", "C999", "G123", "D111", ""]),
    "selected_date": st.sampled_from(["2026-12-04", "2026-11-01", "2026-13-45", "", "tomorrow"]),
    "selected_time": st.sampled_from(["09:30", "00:00", "23:59", "24:00", "9:5", "", "noon"]),
    "selected_option": st.fixed_dictionaries(
        {},
        optional={
            "value": st.one_of(
                st.sampled_from(["mon", "sun", "xyz", "users", "all", "channel", "private"]), junk
            )
        },
    ),
    "selected_options": st.lists(
        st.fixed_dictionaries(
            {}, optional={"value": st.one_of(st.sampled_from(["teamwork"]), junk)}
        ),
        max_size=4,
    ),
}


@st.composite
def modal_state(draw: st.DrawFn, callback_id: str) -> Any:
    """`view.state.values`: the modal's own blocks answered oddly, or any shape at all."""
    fields = MODAL_FIELDS[callback_id]
    answered = {
        block: {"value": {"type": "x", kind: draw(st.one_of(ANSWERS[kind], junk))}}
        for block, kind in fields.items()
        if draw(st.booleans())
    }
    return draw(st.one_of(st.just(answered), junk))


def metadata_with(values: dict[str, Any]) -> str:
    return json.dumps(values, default=str)


private_metadata = st.one_of(
    st.just(""),
    st.text(),  # mostly not JSON
    st.lists(junk, max_size=4).map(json.dumps),
    st.one_of(st.integers(), st.floats(), st.text(max_size=10), st.none()).map(json.dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "ask_id": st.one_of(st.sampled_from([1, "1", 2, 0, -1, 10**30]), junk),
            "channel_id": st.one_of(st.sampled_from(["C111", "D111"]), junk),
            "message_ts": junk,
            "permalink": junk,
            "response_url": st.text(max_size=20),
        },
    ).map(metadata_with),
    st.sampled_from(
        [
            "x" * 100_000,
            json.dumps({"ask_id": 1, "padding": "x" * 200_000}),
            "[" * 500 + "]" * 500,
            "[" * 100_000,  # deeper than the JSON parser can go
        ]
    ),
)
VIEW_PATHS: list[tuple[str, ...]] = [
    ("trigger_id",),
    ("user",),
    ("user", "id"),
    ("team",),
    ("view", "id"),
    ("view", "state"),
    ("view", "hash"),
    ("view", "blocks"),
    ("view", "root_view_id"),
    ("unexpected",),
]


@st.composite
def garbage_submission(draw: st.DrawFn, callback_id: str) -> dict[str, Any]:
    payload = view_submission_payload(
        callback_id=callback_id,
        values=draw(modal_state(callback_id)),
        private_metadata=draw(private_metadata),
        user_id=draw(st.sampled_from([GIVER, ANA, BEN, "U999"])),
        view_id=draw(st.sampled_from(["V111", "V222", "V333"])),
    )
    # The template carries an empty list; Bolt reads its first entry when there is one.
    payload["response_urls"] = []
    return apply_edits(payload, draw(edits_of(VIEW_PATHS)))


def test_every_modal_survives_any_state_and_metadata(server: AppServer, slack: FakeSlack) -> None:
    # Gloria is a Slack admin, so her settings submissions get past the admin check to
    # validation, whatever list of admins an earlier fuzzed submission saved.
    slack.add_user(GIVER, name="gloria", real_name="Gloria", tz="America/New_York", is_admin=True)
    seed_an_ask_with_an_obstacle_and_a_goal(server, slack)

    @fuzz_settings(WIDE_EXAMPLES)
    @given(st.data())
    def one_submission_per_modal(data: st.DataObject) -> None:
        for callback_id in MODAL_FIELDS:
            payload = data.draw(garbage_submission(callback_id), label=callback_id)
            send(server, "view submissions", interactive_body(payload), FORM_CONTENT_TYPE)

    one_submission_per_modal()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- events

EVENTS: dict[str, dict[str, Any]] = {
    "app_home_opened": {"type": "app_home_opened", "user": GIVER, "channel": "D111", "tab": "home"},
    "app_uninstalled": {"type": "app_uninstalled"},
    "tokens_revoked": {"type": "tokens_revoked", "tokens": {"oauth": [GIVER], "bot": ["UBOT"]}},
    "function_executed": function_executed_event(
        callback_id="appreciate",
        inputs={"giver": GIVER, "recipients": [ANA], "reason": "the launch", "channel": "C111"},
        execution_id="Fx111",
        token="xwfp-fuzz",
    ),
    "user_change": {
        "type": "user_change",
        "user": {
            "id": "U777",
            "team_id": TEAM,
            "name": "newcomer",
            "real_name": "New Comer",
            "deleted": False,
            "is_bot": False,
            "is_admin": False,
            "is_restricted": False,
            "tz": "Europe/Berlin",
            "profile": {"display_name": "newcomer", "real_name": "New Comer"},
        },
    },
}
EVENT_PATHS: list[tuple[str, ...]] = [
    ("event", "user"),
    ("event", "user", "id"),
    ("event", "user", "team_id"),
    ("event", "user", "name"),
    ("event", "user", "real_name"),
    ("event", "user", "deleted"),
    ("event", "user", "is_bot"),
    ("event", "user", "is_admin"),
    ("event", "user", "tz"),
    ("event", "user", "profile"),
    ("event", "channel"),
    ("event", "tab"),
    ("event", "view"),
    ("event", "tokens"),
    ("event", "tokens", "bot"),
    ("event", "tokens", "oauth"),
    ("event", "event_ts"),
    ("event", "function"),
    ("event", "function", "callback_id"),
    ("event", "function_execution_id"),
    ("event", "bot_access_token"),
    ("event", "inputs"),
    ("event", "inputs", "giver"),
    ("event", "inputs", "recipients"),
    ("event", "inputs", "reason"),
    ("event", "inputs", "channel"),
    ("event", "inputs", "value"),
    ("event", "unexpected"),
    ("event_time",),
    ("api_app_id",),
    ("token",),
    ("unexpected",),
]
# Slack's event ids and team ids are short strings; other types are pinned down below.
envelope_ids = st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(["Ev1", "T111", "T999"]))


@st.composite
def garbage_event(draw: st.DrawFn, event_type: str) -> bytes:
    envelope = json.loads(event_body(EVENTS[event_type]))
    for field in ("event_id", "team_id"):
        envelope[field] = draw(st.one_of(st.just(REMOVE), st.just(envelope[field]), envelope_ids))
        if envelope[field] is REMOVE:
            del envelope[field]
    if draw(st.booleans()):
        envelope["authorizations"] = draw(
            st.lists(st.dictionaries(st.sampled_from(["team_id", "user_id", "is_bot"]), junk))
        )
    return json.dumps(apply_edits(envelope, draw(edits_of(EVENT_PATHS)))).encode()


def test_every_event_survives_missing_and_extra_fields(server: AppServer, slack: FakeSlack) -> None:
    @fuzz_settings(EXAMPLES)
    @given(st.data())
    def one_of_each_event(data: st.DataObject) -> None:
        for event_type in EVENTS:
            body = data.draw(garbage_event(event_type), label=event_type)
            send(server, "events", body, JSON_CONTENT_TYPE)

    one_of_each_event()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- malformed bodies

# Bodies Bolt can read, but that are no Slack request the app knows.
READABLE_NONSENSE: list[tuple[bytes, str]] = [
    (b"", FORM_CONTENT_TYPE),
    (b"", JSON_CONTENT_TYPE),
    (b"", "text/plain"),
    (b"%zz&&==&a=%&%E0%A4%A", FORM_CONTENT_TYPE),
    (b"=&=&;;;&&", FORM_CONTENT_TYPE),
    (b"%00=%00&%FF=%FE", FORM_CONTENT_TYPE),
    (b"command=%2Fappreciate", FORM_CONTENT_TYPE),
    (b"command=%2Fask&text=%3C%40U222%3E+x", FORM_CONTENT_TYPE),
    (b"command=%2Fappreciate&command=%2Fask&text=help&user_id=U111", FORM_CONTENT_TYPE),
    (b"command=%2Fnope&text=help", FORM_CONTENT_TYPE),
    (b"text=help", "text/plain"),
    (b"<xml>payload</xml>", "application/xml"),
    (b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--", "multipart/form-data"),
    (b"{}", JSON_CONTENT_TYPE),
    (b'{"type": "event_callback"}', JSON_CONTENT_TYPE),
    (b'{"type": "event_callback", "event": {}}', JSON_CONTENT_TYPE),
    (b'{"type": "event_callback", "event": {"type": "app_home_opened"}}', JSON_CONTENT_TYPE),
    (b'{"type": "block_actions"}', JSON_CONTENT_TYPE),
    (b'{"type": "view_submission", "view": {}}', JSON_CONTENT_TYPE),
    (b'{"type": "shortcut", "callback_id": "appreciate_someone"}', JSON_CONTENT_TYPE),
    (b'{"type": "message_action", "callback_id": "ask_for_commitment"}', JSON_CONTENT_TYPE),
    (b"text=" + b"x" * A_MEGABYTE + b"&command=%2Fappreciate", FORM_CONTENT_TYPE),
    (b"a=" + b"%3C%21channel%3E" * (A_MEGABYTE // 16), FORM_CONTENT_TYPE),
    (
        json.dumps({"type": "event_callback", "padding": "x" * A_MEGABYTE}).encode(),
        JSON_CONTENT_TYPE,
    ),
    (
        interactive_body(
            view_submission_payload(
                callback_id="appreciate_modal", values={}, private_metadata="x" * A_MEGABYTE
            )
        ),
        FORM_CONTENT_TYPE,
    ),
]
# Keys Bolt parses itself, left out of random objects (see the expected failures below).
BOLT_KEYS = {
    "payload",
    "type",
    "user",
    "team",
    "channel",
    "enterprise",
    "authorizations",
    "event",
    "view",
    "actions",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "function_data",
    "response_urls",
    "event_id",
    "team_id",
}
random_fields = st.dictionaries(
    st.text(max_size=12).filter(lambda key: key not in BOLT_KEYS), junk, max_size=6
)
nonsense_body = st.one_of(
    random_fields.map(lambda fields: (json.dumps(fields).encode(), JSON_CONTENT_TYPE)),
    random_fields.map(
        lambda fields: (
            urlencode({k: json.dumps(v) for k, v in fields.items()}).encode(),
            FORM_CONTENT_TYPE,
        )
    ),
    st.tuples(
        st.text().filter(lambda t: "payload" not in t and not t.startswith("{")).map(str.encode),
        st.sampled_from([FORM_CONTENT_TYPE, "text/plain", "application/octet-stream", ""]),
    ),
)


def test_bodies_that_are_no_slack_request_get_an_answer_not_a_crash(
    server: AppServer, slack: FakeSlack
) -> None:
    for body, content_type in READABLE_NONSENSE:
        send(server, "malformed bodies", body, content_type)

    @fuzz_settings(EXAMPLES)
    @given(nonsense_body)
    def one_body(body_and_type: tuple[bytes, str]) -> None:
        body, content_type = body_and_type
        send(server, "malformed bodies", body, content_type)

    one_body()
    assert_still_serving(server, slack)


# ---------------------------------------------------------------------------- known crashes


def _json(value: Any) -> tuple[bytes, str]:
    return json.dumps(value).encode(), JSON_CONTENT_TYPE


def _interactive(payload: dict[str, Any]) -> tuple[bytes, str]:
    return interactive_body(payload), FORM_CONTENT_TYPE


def _shortcut_with(**fields: Any) -> tuple[bytes, str]:
    return _interactive({**global_shortcut_payload(callback_id="appreciate_someone"), **fields})


def _event_with(**fields: Any) -> tuple[bytes, str]:
    envelope = json.loads(event_body(EVENTS["app_home_opened"]))
    return _json({**envelope, **fields})


# Bolt parses the body while building the request and raises on these; bot/web.py checks
# the signature first (401 when it fails) and answers 400 when Bolt cannot parse it.
UNPARSEABLE_BEFORE_THE_SIGNATURE: dict[str, tuple[bytes, str]] = {
    "not UTF-8": (b"text=\xff\xfe\xfd", FORM_CONTENT_TYPE),
    "payload field not JSON": (b"payload=not+json", FORM_CONTENT_TYPE),
    "payload field a JSON list": (b"payload=%5B1%2C2%5D", FORM_CONTENT_TYPE),
    "payload field a JSON number": (b"payload=3", FORM_CONTENT_TYPE),
    "JSON body a list": (b"[1, 2]", JSON_CONTENT_TYPE),
    "JSON body a number": (b"3", JSON_CONTENT_TYPE),
    "JSON body null": (b"null", JSON_CONTENT_TYPE),
    "JSON body a string": (b'"hello"', JSON_CONTENT_TYPE),
    "form body labelled JSON": (b"text=help", JSON_CONTENT_TYPE),
    "brace but not JSON": (b"{not json", "text/plain"),
    "integer over 4300 digits": (b'{"n": ' + b"1" * 5000 + b"}", JSON_CONTENT_TYPE),
    "user a boolean": _shortcut_with(user=True),
    "team a number": _shortcut_with(team=1),
    "channel a number": _shortcut_with(channel=0),
    "enterprise a number": _shortcut_with(enterprise=1),
    "response_urls null": _interactive(
        {**view_submission_payload(callback_id="ask_modal", values={}), "response_urls": None}
    ),
    "event whose user is a boolean": _json(
        {"type": "event_callback", "event": {"type": "app_home_opened", "user": False}}
    ),
    "authorizations a number": _event_with(authorizations=5),
    "authorizations holding a number": _event_with(authorizations=[1]),
}
# Signed requests whose core part has the wrong shape: Bolt's listener matchers raise on
# them; the app's error handler answers them (and bot/web.py guards what escapes Bolt).
UNMATCHABLE_AFTER_THE_SIGNATURE: dict[str, tuple[bytes, str]] = {
    "block_actions whose action has no action_id": _interactive(
        {"type": "block_actions", "actions": [{}]}
    ),
    "block_actions with no action": _interactive(
        {**block_actions_payload(action_id="ask_done", value="1"), "actions": []}
    ),
    "block_actions whose actions are text": _interactive(
        {**block_actions_payload(action_id="ask_done", value="1"), "actions": "x"}
    ),
    "view_submission whose view has no type": _interactive(
        {"type": "view_submission", "view": {"callback_id": "ask_modal"}}
    ),
    "view_submission whose view is text": _interactive(
        {**view_submission_payload(callback_id="ask_modal", values={}), "view": "x"}
    ),
    "event_callback whose event is a number": _event_with(event=3),
}
# bot/listeners/events.py records each event id before handling it; malformed ids are
# ignored rather than stored.
IDS_THE_DATABASE_CANNOT_STORE: dict[str, tuple[bytes, str]] = {
    "event_id a list": _event_with(event_id=["Ev1"]),
    "event_id an object": _event_with(event_id={"id": "Ev1"}),
    "team_id a list": _event_with(team_id=["T111"], authorizations=[]),
}


def statuses(
    server: AppServer, cases: dict[str, tuple[bytes, str]], *, signed: bool = True
) -> dict[str, int]:
    found = {}
    for name, (body, content_type) in cases.items():
        tried[KNOWN_CRASHES] += 1
        found[name] = server.client.post(EVENTS_PATH, body, content_type, signed=signed)[0]
        answered.setdefault(KNOWN_CRASHES, Counter())[found[name]] += 1
    return found


def crashes(found: dict[str, int]) -> dict[str, int]:
    return {name: status for name, status in found.items() if status >= 500}


def test_signed_bodies_bolt_cannot_parse_are_refused_with_400(server: AppServer) -> None:
    assert crashes(statuses(server, UNPARSEABLE_BEFORE_THE_SIGNATURE)) == {}


def test_unsigned_bodies_bolt_cannot_parse_are_refused_without_a_500(server: AppServer) -> None:
    assert crashes(statuses(server, UNPARSEABLE_BEFORE_THE_SIGNATURE, signed=False)) == {}


def test_signed_payloads_bolt_cannot_match_are_refused_with_400(server: AppServer) -> None:
    assert crashes(statuses(server, UNMATCHABLE_AFTER_THE_SIGNATURE)) == {}


def test_events_whose_ids_are_not_strings_are_refused_without_a_500(server: AppServer) -> None:
    assert crashes(statuses(server, IDS_THE_DATABASE_CANNOT_STORE)) == {}


@pytest.mark.parametrize("where", ["team", "user", "channel", "enterprise"])
def test_a_body_whose_ids_are_not_slack_ids_is_answered_and_nothing_is_sent(
    server: AppServer, slack: FakeSlack, where: str
) -> None:
    # Found by the fuzz suite: Bolt's client sent the payload's team id back to Slack with
    # every call, so a list holding "<!everyone>" reached chat.postMessage.
    payload = block_actions_payload(
        action_id="ask_done", value="not-an-ask", user_id=GIVER, response_url=slack.response_url()
    )
    payload[where] = {"id": [{"x": "<!everyone>"}], "name": "x"}
    slack.reset_calls()
    status, _ = server.client.interactive(payload)
    # Without a team or a user it is no Slack request: refused, and stored nowhere. Odd
    # channel or enterprise ids are acknowledged, and the request dropped by its worker.
    assert status == (400 if where in ("team", "user") else 200)
    time.sleep(0.3)  # the work after the ack would have run by now
    # Bolt itself checks the token once, with the first request's client, before any
    # middleware of the app's; nothing else is called.
    assert [call.method for call in slack.calls if call.method != "auth.test"] == []
    assert slack.response_url_posts() == []
