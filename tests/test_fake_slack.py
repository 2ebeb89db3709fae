"""Checks that the test-support fakes behave like Slack, so other tests can trust them."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode
from urllib.request import Request, urlopen

import jwt
import pytest
from jsonschema import Draft7Validator
from slack_bolt.request.payload_utils import (
    is_block_actions,
    is_event,
    is_global_shortcut,
    is_message_shortcut,
    is_slash_command,
    is_view_submission,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.support.blockkit import (
    assert_valid_home,
    assert_valid_manifest,
    assert_valid_message_blocks,
    assert_valid_modal,
)
from tests.support.fake_slack import DEFAULT_SCOPES, FakeSlack
from tests.support.slack_requests import (
    SlackClientForTests,
    block_actions_payload,
    event_body,
    global_shortcut_payload,
    interactive_body,
    message_shortcut_payload,
    sign,
    slash_command_body,
    view_submission_payload,
)
from tests.support.specs import load_json, read_text

SECRET = "test-signing-secret"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url)


def test_auth_test_reports_team_bot_and_scopes(client: WebClient) -> None:
    response = client.auth_test()
    assert response["team_id"] == "T111"
    assert response["user_id"] == "UBOT"
    assert response.headers["x-oauth-scopes"] == ",".join(DEFAULT_SCOPES)


def test_users_info_known_unknown_and_slackbot(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("U222", name="ada", real_name="Ada Lovelace", tz="Europe/London")
    user = client.users_info(user="U222")["user"]
    assert user["real_name"] == "Ada Lovelace"
    assert user["profile"]["display_name"] == "ada"
    assert user["tz"] == "Europe/London"
    assert user["tz_offset"] in (0, 3600)
    assert client.users_info(user="USLACKBOT")["user"]["is_bot"] is True

    with pytest.raises(SlackApiError) as raised:
        client.users_info(user="UNOPE")
    assert raised.value.response["error"] == "user_not_found"

    member_ids = {m["id"] for m in client.users_list()["members"]}
    assert {"U222", "USLACKBOT", "UBOT"} <= member_ids


def test_post_message_history_with_metadata_and_threads(fake: FakeSlack, client: WebClient) -> None:
    metadata = {"event_type": "ask_created", "event_payload": {"ask_id": 7}}
    first = client.chat_postMessage(channel="C1", text="hi", blocks=[SECTION], metadata=metadata)
    reply = client.chat_postMessage(channel="C1", text="in thread", thread_ts=first["ts"])
    second = client.chat_postMessage(channel="C1", text="later")
    assert float(first["ts"]) < float(reply["ts"]) < float(second["ts"])
    assert first["message"]["metadata"] == metadata

    history = client.conversations_history(channel="C1", include_all_metadata=True)
    # Newest first, and the thread reply stays in its thread, as in Slack.
    assert [m["text"] for m in history["messages"]] == ["later", "hi"]
    assert history["messages"][1]["metadata"] == metadata
    assert history["has_more"] is False
    later_only = client.conversations_history(channel="C1", oldest=first["ts"])
    assert [m["text"] for m in later_only["messages"]] == ["later"]
    replies = client.conversations_replies(channel="C1", ts=first["ts"])
    assert [m["text"] for m in replies["messages"]] == ["hi", "in thread"]

    client.chat_update(channel="C1", ts=first["ts"], text="edited")
    stored = fake.messages("C1")
    assert [m["text"] for m in stored] == ["edited", "in thread", "later"]
    assert stored[0]["blocks"] == [SECTION]
    assert stored[1]["thread_ts"] == first["ts"]
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel="C1", ts="1.000001", text="x")


def test_form_encoded_body_and_query_params_are_parsed(fake: FakeSlack) -> None:
    body = urlencode({"channel": "C9", "text": "t", "blocks": json.dumps([SECTION])}).encode()
    request = Request(
        fake.url + "chat.postMessage?unfurl_links=false",
        data=body,
        headers={"Authorization": "Bearer xoxb-form"},
    )
    with urlopen(request) as response:
        assert json.loads(response.read())["ok"] is True
    call = fake.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == [SECTION]
    assert call.params["unfurl_links"] == "false"
    assert call.token == "xoxb-form"
    assert call.path == "/api/chat.postMessage"


def test_posting_to_a_user_id_lands_in_their_dm(fake: FakeSlack, client: WebClient) -> None:
    response = client.chat_postMessage(channel="U222", text="psst")
    assert response["channel"] == "D222"
    assert [m["text"] for m in fake.messages("U222")] == ["psst"]
    assert client.conversations_open(users=["U222"])["channel"]["id"] == "D222"


def test_channel_membership_rules() -> None:
    scopes = [s for s in DEFAULT_SCOPES if s != "chat:write.public"]
    with FakeSlack(scopes=scopes) as fake:
        client = WebClient(token="xoxb-test", base_url=fake.url)
        fake.set_channel("CPUB", is_member=False)
        fake.set_channel("CPRIV", is_member=False, is_private=True)
        fake.set_channel("CARCH", is_archived=True)
        fake.set_channel("CGONE", exists=False)
        for channel, error in [
            ("CPUB", "not_in_channel"),
            ("CPRIV", "channel_not_found"),
            ("CARCH", "is_archived"),
            ("CGONE", "channel_not_found"),
        ]:
            with pytest.raises(SlackApiError) as raised:
                client.chat_postMessage(channel=channel, text="x")
            assert raised.value.response["error"] == error, channel

        assert client.conversations_info(channel="CPUB")["channel"]["is_member"] is False
        client.conversations_join(channel="CPUB")
        assert client.chat_postMessage(channel="CPUB", text="now in")["ok"] is True
        with pytest.raises(SlackApiError, match="method_not_supported_for_channel_type"):
            client.conversations_join(channel="CPRIV")


def test_conversations_info_says_what_kind_of_conversation_it_is(
    fake: FakeSlack, client: WebClient
) -> None:
    """Every `is_*` flag of Slack's own example answer is there, with the example's type,
    and the three that make a conversation private say so."""
    try:
        spec = load_json("slack_web_openapi_v2.json")
    except FileNotFoundError:
        pytest.skip("Slack's Web API spec is not beside the repository")
    example = spec["paths"]["/conversations.info"]["get"]["responses"]["200"]["examples"]
    real = example["application/json"]["channel"]
    wanted = {"is_private", "is_im", "is_mpim", "is_channel", "is_group", "is_archived"}
    assert wanted <= {key for key in real if key.startswith("is_")}
    fake.set_channel("CPUB")
    fake.set_channel("CPRIV", is_private=True)
    fake.set_channel("GMPIM", is_mpim=True)
    kinds = {}
    for channel in ("CPUB", "CPRIV", "GMPIM", "D222"):
        answer = client.conversations_info(channel=channel)["channel"]
        for key in wanted:
            assert isinstance(answer[key], type(real[key])), (channel, key)
        kinds[channel] = (answer["is_private"], answer["is_im"], answer["is_mpim"])
    assert kinds == {
        "CPUB": (False, False, False),
        "CPRIV": (True, False, False),
        "GMPIM": (True, False, True),
        "D222": (True, True, False),
    }


def test_usergroups_list_answers_as_the_spec_says(fake: FakeSlack, client: WebClient) -> None:
    try:
        spec = load_json("slack_web_openapi_v2.json")
    except FileNotFoundError:
        pytest.skip("Slack's Web API spec is not beside the repository")
    schema = spec["paths"]["/usergroups.list"]["get"]["responses"]["200"]["schema"]
    validator = Draft7Validator({**schema, "definitions": spec["definitions"]})
    fake.add_usergroup("SSALES", "Sales", ["U0001", "U0002"])
    fake.add_usergroup("SADMINS", "Admins", ["U0001"], auto_type="admin")
    fake.add_usergroup("SOLD", "Old team", ["U0003"], disabled=True)

    answer = client.usergroups_list(include_users=True).data
    assert isinstance(answer, dict)

    assert not list(validator.iter_errors(answer))
    assert [(g["id"], g["users"]) for g in answer["usergroups"]] == [
        ("SSALES", ["U0001", "U0002"]),
        ("SADMINS", ["U0001"]),
    ]
    assert "users" not in client.usergroups_list()["usergroups"][0]
    assert len(client.usergroups_list(include_disabled=True)["usergroups"]) == 3
    fake.scopes.remove("usergroups:read")
    with pytest.raises(SlackApiError) as refused:
        client.usergroups_list()
    assert refused.value.response["error"] == "missing_scope"


def test_public_channel_post_allowed_with_chat_write_public(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.set_channel("CPUB", is_member=False)
    assert client.chat_postMessage(channel="CPUB", text="x")["ok"] is True


def test_rate_limit_surfaces_status_and_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    # Failures are consumed one per call.
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True


def test_queued_errors_overrides_and_bad_tokens(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("users.info", error="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError, match="fatal_error"):
            client.users_info(user="USLACKBOT")
    fake.fail_next("auth.test", status=503)
    with pytest.raises(SlackApiError) as raised:
        client.auth_test()
    assert raised.value.response.status_code == 503

    fake.set_response("team.info", {"ok": True, "team": {"id": "T111", "name": "Example"}})
    assert client.team_info()["team"]["name"] == "Example"

    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(token="bogus", base_url=fake.url).auth_test()
    assert fake.calls_to("auth.test")[-1].token == "bogus"


def test_views_trigger_ids_are_single_use_and_expire(fake: FakeSlack, client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [SECTION]}
    opened = client.views_open(trigger_id="1.2.abc", view=view)["view"]
    assert opened["id"].startswith("V")
    assert opened["blocks"] == [SECTION]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id="1.2.abc", view=view)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id="expired", view=view)
    assert client.views_update(view_id=opened["id"], view=view)["view"]["id"] == opened["id"]

    home = {"type": "home", "blocks": [SECTION]}
    client.views_publish(user_id="U222", view=home)
    published = fake.home_view("U222")
    assert published is not None
    assert published["blocks"] == [SECTION]


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    response = WebhookClient(fake.response_url("cmd-1")).send(
        text="done", response_type="ephemeral"
    )
    assert (response.status_code, response.body) == (200, "ok")
    assert fake.response_url_posts("cmd-1") == [
        {"text": "done", "response_type": "ephemeral", "_key": "cmd-1"}
    ]
    fake.fail_next("response_url", status=404, error="expired_url")
    assert WebhookClient(fake.response_url()).send(text="late").status_code == 404
    assert len(fake.calls_to("response_url")) == 2


def test_wait_for_reports_what_was_called(fake: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    assert len(fake.wait_for("auth.test")) == 1
    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        fake.wait_for("chat.postMessage", timeout=0.05)
    fake.reset_calls()
    assert fake.calls == []


def test_signature_matches_slack_sdk_verifier() -> None:
    body = slash_command_body(command="/advocate", text="help")
    headers = sign(body, SECRET)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = sign(body, SECRET, timestamp=1_000_000_000)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)


def _form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body.decode()).items()}


def test_slash_command_body_shape() -> None:
    fields = _form(slash_command_body(command="/advocate", text="x"))
    assert fields["command"] == "/advocate"
    assert fields["user_id"] == "U111"
    assert fields["is_enterprise_install"] == "false"
    assert fields["api_app_id"] == "A111"
    assert "enterprise_id" not in fields
    assert is_slash_command(fields)
    again = _form(slash_command_body(command="/advocate", text="x"))
    assert again["trigger_id"] != fields["trigger_id"]
    org = _form(slash_command_body(command="/a", text="", enterprise_id="E9"))
    assert org["enterprise_id"] == "E9"


def test_interactive_builders_match_bolt_payload_kinds() -> None:
    shortcut = global_shortcut_payload(callback_id="new_ask", team_id="T9")
    assert is_global_shortcut(shortcut)
    assert shortcut["team"] == {"id": "T9", "domain": "workspace-domain"}
    assert shortcut["user"]["team_id"] == "T9"

    message = {"text": "hi", "user": "U222", "ts": "123.456"}
    on_message = message_shortcut_payload(callback_id="ask_about", message=message)
    assert is_message_shortcut(on_message)
    assert on_message["message_ts"] == "123.456"
    assert on_message["message"]["text"] == "hi"

    click = block_actions_payload(action_id="approve", value="42")
    assert is_block_actions(click)
    assert click["actions"][0]["value"] == "42"
    assert click["container"]["channel_id"] == "C111"
    select = block_actions_payload(
        action_id="pick",
        view={"type": "modal", "id": "V9"},
        extra_action={"type": "static_select", "selected_option": {"value": "a"}},
    )
    assert "text" not in select["actions"][0]
    assert select["container"] == {"type": "view", "view_id": "V9"}
    assert "response_url" not in select

    values = {"b": {"a": {"type": "plain_text_input", "value": "typed"}}}
    submission = view_submission_payload(callback_id="ask", values=values, private_metadata="m")
    assert is_view_submission(submission)
    assert submission["view"]["state"]["values"] == values
    assert submission["view"]["callback_id"] == "ask"

    decoded = json.loads(parse_qs(interactive_body(click).decode())["payload"][0])
    assert decoded == click


def test_event_body_matches_the_envelope_schema() -> None:
    envelope = json.loads(event_body({"type": "app_home_opened", "user": "U1", "tab": "home"}))
    assert is_event(envelope)
    assert envelope["authorizations"][0]["user_id"] == "UBOT"
    assert "enterprise_id" not in envelope
    assert envelope["event"]["event_ts"]
    schema = load_json("events-envelope.schema.json")
    # authed_users is legacy; Slack's current deliveries (and bolt's fixtures) omit it.
    schema["required"].remove("authed_users")
    Draft7Validator(schema).validate(envelope)


def test_block_kit_and_manifest_helpers() -> None:
    assert_valid_message_blocks([SECTION])
    with pytest.raises(AssertionError, match="at most 50"):
        assert_valid_message_blocks([SECTION] * 51)
    with pytest.raises(AssertionError, match="too long"):
        assert_valid_message_blocks(
            [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
        )
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Ask"}, "blocks": [SECTION]}
    assert_valid_modal(modal)
    with pytest.raises(AssertionError, match=r"\$\.title"):
        assert_valid_modal({**modal, "title": {"type": "plain_text", "text": "x" * 25}})
    assert_valid_home({"type": "home", "blocks": [SECTION]})
    with pytest.raises(AssertionError):
        assert_valid_home(modal)
    assert_valid_manifest(load_json("manifest.example.v1.json"))
    with pytest.raises(AssertionError, match="name"):
        assert_valid_manifest({"display_information": {}})


class _EchoHandler(BaseHTTPRequestHandler):
    """Stands in for the app: verifies Slack's signature and echoes what it received."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        valid = SignatureVerifier(SECRET).is_valid_request(body, dict(self.headers.items()))
        reply: dict[str, Any] = {
            "body": body.decode(),
            "retry_num": self.headers.get("X-Slack-Retry-Num"),
            "content_type": self.headers.get("Content-Type"),
        }
        self._answer(200 if valid else 401, json.dumps(reply).encode())

    def do_GET(self) -> None:
        self._answer(200, b"healthy")

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_client_for_tests_signs_and_reports_errors() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    # A short poll interval keeps shutdown() from waiting the default half second.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        slack = SlackClientForTests(f"http://127.0.0.1:{server.server_address[1]}", SECRET)
        status, body = slack.command(command="/advocate", text="help")
        assert status == 200
        assert parse_qs(json.loads(body)["body"])["command"] == ["/advocate"]
        assert slack.last_elapsed is not None

        status, body = slack.event({"type": "app_mention", "text": "hi"}, retry_num=1)
        assert status == 200
        assert json.loads(body)["retry_num"] == "1"

        status, body = slack.interactive(block_actions_payload(action_id="a"))
        assert status == 200
        assert json.loads(body)["content_type"] == "application/x-www-form-urlencoded"

        status, _, _ = slack.post("/slack/events", b"{}", "application/json", signature="v0=bad")
        assert status == 401
        assert slack.get("/health") == (200, b"healthy")
    finally:
        server.shutdown()
        server.server_close()


def _openid_fields(section: str) -> set[str]:
    """The fields the reference names in one sentence of its Sign in with Slack section."""
    text = " ".join(read_text("README.md").split())
    start = text.index(section)
    end = re.compile(r"\.(\s|$)").search(text, text.index(":", start + len(section)))
    assert end is not None
    sentence = text[start : end.start()]
    return set(re.findall(r"`([^`]+)`", sentence.split(":", 1)[1]))


def _sign_in(fake: FakeSlack, nonce: str = "n-1") -> tuple[str, str]:
    """The authorize page with the app's redirect URL: the code and state it sends back."""
    query = urlencode(
        {
            "response_type": "code",
            "scope": "openid email profile",
            "client_id": "111.222",
            "state": "s-1",
            "nonce": nonce,
            "redirect_uri": "http://localhost:3000/slack/signin_redirect",
        }
    )
    connection = HTTPConnection("127.0.0.1", fake.port, timeout=10)
    connection.request("GET", f"/openid/connect/authorize?{query}")
    response = connection.getresponse()
    response.read()
    assert response.status == 302
    location = response.getheader("Location") or ""
    assert location.startswith("http://localhost:3000/slack/signin_redirect?")
    answer = parse_qs(location.split("?", 1)[1])
    return answer["code"][0], answer["state"][0]


def test_sign_in_with_slack_gives_an_id_token_signed_by_its_published_key(
    fake: FakeSlack,
) -> None:
    fake.add_user("U222", real_name="Ana")
    fake.openid_client("111.222", "client-secret")
    fake.signin_as("U222")
    code, state = _sign_in(fake)
    assert state == "s-1"
    api = WebClient(base_url=fake.url)
    redirect = "http://localhost:3000/slack/signin_redirect"

    answer = api.openid_connect_token(
        client_id="111.222", client_secret="client-secret", code=code, redirect_uri=redirect
    )

    # The reference names the arguments, then the answer: the answer's fields are among them,
    # all of those a token that is not refreshable has.
    documented_answer = _openid_fields("**`openid.connect.token`**")
    assert set(answer.data) <= documented_answer
    assert {"ok", "access_token", "token_type", "id_token"} <= set(answer.data)
    keys = jwt.PyJWKClient(f"{fake.origin}/openid/connect/keys")
    token = answer["id_token"]
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience="111.222",
        issuer=fake.origin,
    )
    documented = _openid_fields("The id_token's claims")
    assert set(claims) <= documented
    assert documented - set(claims) <= {"at_hash", "picture"}
    assert claims["nonce"] == "n-1"
    assert (claims["https://slack.com/user_id"], claims["https://slack.com/team_id"]) == (
        "U222",
        "T111",
    )
    assert claims["name"] == "Ana"
    # A code works once.
    with pytest.raises(SlackApiError, match="invalid_code"):
        api.openid_connect_token(
            client_id="111.222", client_secret="client-secret", code=code, redirect_uri=redirect
        )


def test_sign_in_refuses_a_wrong_client_secret_or_redirect_and_can_be_made_to_lie(
    fake: FakeSlack,
) -> None:
    fake.openid_client("111.222", "client-secret")
    fake.signin_as("U111")
    api = WebClient(base_url=fake.url)
    redirect = "http://localhost:3000/slack/signin_redirect"
    code, _ = _sign_in(fake)
    with pytest.raises(SlackApiError, match="bad_client_secret"):
        api.openid_connect_token(
            client_id="111.222", client_secret="wrong", code=code, redirect_uri=redirect
        )
    with pytest.raises(SlackApiError, match="bad_redirect_uri"):
        api.openid_connect_token(
            client_id="111.222",
            client_secret="client-secret",
            code=code,
            redirect_uri="http://elsewhere/",
        )

    fake.next_id_token(other_key=True, aud="someone-else")
    code, _ = _sign_in(fake)
    token = api.openid_connect_token(
        client_id="111.222", client_secret="client-secret", code=code, redirect_uri=redirect
    )["id_token"]
    keys = jwt.PyJWKClient(f"{fake.origin}/openid/connect/keys")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            keys.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],
            options={"verify_aud": False},
        )
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "someone-else"


def test_custom_step_runs_as_slack_runs_them(fake: FakeSlack) -> None:
    outputs = [{"name": "permalink", "type": "string", "is_required": True}]
    event = fake.execute(
        "appreciate",
        {"giver": "U1", "recipients": ["U2", "U3"], "reason": "the launch"},
        output_parameters=outputs,
    )
    template = load_json("payloads/event_function_executed.json")["event"]
    assert set(event) == set(template)
    assert event["type"] == "function_executed"
    assert event["function"]["callback_id"] == "appreciate"
    assert event["inputs"]["recipients"] == ["U2", "U3"]
    execution_id, token = event["function_execution_id"], event["bot_access_token"]
    assert execution_id.startswith("Fx") and token.startswith("xwfp-")
    envelope = json.loads(event_body(event))
    assert is_event(envelope) and envelope["event"] == event

    bot = WebClient(token="xoxb-test", base_url=fake.url)
    step = WebClient(token=token, base_url=fake.url)
    other = WebClient(token=fake.execute("appreciate", {})["bot_access_token"], base_url=fake.url)
    # Only the run's own token completes it, with the outputs its function declares.
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        bot.functions_completeSuccess(function_execution_id=execution_id, outputs={})
    with pytest.raises(SlackApiError, match="access_denied"):
        other.functions_completeSuccess(function_execution_id=execution_id, outputs={})
    with pytest.raises(SlackApiError, match="parameter_validation_failed"):
        step.functions_completeSuccess(function_execution_id=execution_id, outputs={})
    # While it runs, the token works like a bot token.
    assert step.chat_postMessage(channel="C1", text="hi")["ok"] is True
    answer = step.functions_completeSuccess(
        function_execution_id=execution_id, outputs={"permalink": "https://x"}
    )
    assert answer.data == {"ok": True}
    assert fake.execution(execution_id).state == "completed"
    assert fake.execution(execution_id).outputs == {"permalink": "https://x"}
    # Completed: a second completion is refused, and the token is dead for anything else.
    with pytest.raises(SlackApiError, match="function_execution_not_found"):
        step.functions_completeError(function_execution_id=execution_id, error="late")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        step.chat_postMessage(channel="C1", text="hi")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token="xwfp-made-up", base_url=fake.url).auth_test()
    assert fake.execution(execution_id).error is None


def test_custom_step_fails_with_its_error(fake: FakeSlack) -> None:
    event = fake.execute("ask_for_commitment", {"asker": "U1", "helper": "U2"})
    step = WebClient(token=event["bot_access_token"], base_url=fake.url)
    execution_id = event["function_execution_id"]
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        step.functions_completeError(function_execution_id=execution_id, error="")
    step.functions_completeError(function_execution_id=execution_id, error="Not this week.")
    assert fake.execution(execution_id).state == "failed"
    assert fake.execution(execution_id).error == "Not this week."
    with pytest.raises(SlackApiError, match="function_execution_not_found"):
        step.functions_completeSuccess(function_execution_id=execution_id, outputs={})
