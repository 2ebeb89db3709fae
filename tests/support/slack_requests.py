"""Build and send the requests Slack sends to the app, signed like Slack signs them.

Every builder starts from a real payload captured from Slack (``slack-specs/payloads``,
re-read on each call and never mutated) and only overrides ids and the fields under test,
so the app is exercised against Slack's shapes rather than shapes a test author imagined.

Ids default to the same fake workspace as ``FakeSlack`` (team ``T111``, user ``U111``,
channel ``C111``, bot user ``UBOT``). Enterprise Grid fields are dropped unless an
``enterprise_id`` is given, as Slack omits them for ordinary workspaces.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qsl, urlencode
from urllib.request import Request, urlopen

from .specs import load_json, read_text

__all__ = [
    "DEFAULT_PATH",
    "SlackClientForTests",
    "block_actions_payload",
    "event_body",
    "function_executed_event",
    "global_shortcut_payload",
    "interactive_body",
    "message_shortcut_payload",
    "sign",
    "slash_command_body",
    "url_verification_body",
    "view_submission_payload",
]

DEFAULT_PATH = "/slack/events"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
APP_ID = "A111"
ENTERPRISE_NAME = "Org Name"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request: timestamp and v0 HMAC-SHA256 signature."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(ts).encode("ascii") + b":" + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def _new_trigger_id() -> str:
    # Same three-part shape as Slack's; unique so FakeSlack's one-use rule never trips
    # between unrelated requests.
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{uuid.uuid4().hex}"


def _now_ts() -> str:
    return f"{time.time():.6f}"


def _payload(name: str) -> dict[str, Any]:
    loaded = load_json(f"payloads/{name}")
    if not isinstance(loaded, dict):
        raise TypeError(f"payloads/{name} is not a JSON object")
    return loaded


def _set_workspace(
    payload: dict[str, Any], *, team_id: str, user_id: str, enterprise_id: str | None
) -> None:
    """Point an interactive payload's team, user and enterprise fields at one workspace."""
    team = payload["team"]
    team["id"] = team_id
    if enterprise_id is None:
        team.pop("enterprise_id", None)
        team.pop("enterprise_name", None)
        payload["enterprise"] = None
    else:
        team["enterprise_id"] = enterprise_id
        team.setdefault("enterprise_name", ENTERPRISE_NAME)
        payload["enterprise"] = {"id": enterprise_id, "name": team["enterprise_name"]}
    # Current interactive payloads always say whether the install is org-wide.
    payload["is_enterprise_install"] = False
    payload["user"]["id"] = user_id
    payload["user"]["team_id"] = team_id


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str = "U111",
    team_id: str = "T111",
    channel_id: str = "C111",
    enterprise_id: str | None = None,
    response_url: str = "https://hooks.slack.com/commands/T111/111/xxxxx",
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> bytes:
    """Form-encoded slash command body as Slack posts it."""
    fields = dict(
        parse_qsl(read_text("payloads/slash_command.form.txt").strip(), keep_blank_values=True)
    )
    overrides = {
        "command": command,
        "text": text,
        "user_id": user_id,
        "team_id": team_id,
        "channel_id": channel_id,
        "response_url": response_url,
        "trigger_id": trigger_id or _new_trigger_id(),
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
    }
    if user_name is not None:
        overrides["user_name"] = user_name
    if channel_name is not None:
        overrides["channel_name"] = channel_name
    fields.update(overrides)
    if enterprise_id is None:
        fields.pop("enterprise_id", None)
        fields.pop("enterprise_name", None)
    else:
        fields["enterprise_id"] = enterprise_id
        fields.setdefault("enterprise_name", ENTERPRISE_NAME)
    return urlencode(fields).encode("utf-8")


def global_shortcut_payload(
    *,
    callback_id: str,
    user_id: str = "U111",
    team_id: str = "T111",
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    payload = _payload("global_shortcut.json")
    _set_workspace(payload, team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)
    payload["callback_id"] = callback_id
    payload["trigger_id"] = trigger_id or _new_trigger_id()
    payload["action_ts"] = _now_ts()
    return payload


def message_shortcut_payload(
    *,
    callback_id: str,
    message: dict[str, Any],
    channel_id: str = "C111",
    user_id: str = "U111",
    team_id: str = "T111",
    trigger_id: str | None = None,
    response_url: str = "https://hooks.slack.com/app/T111/111/xxx",
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """A message shortcut on ``message`` (needs at least ``text``, ``user`` and ``ts``)."""
    missing = {"text", "user", "ts"} - message.keys()
    if missing:
        raise ValueError(f"message is missing {sorted(missing)}")
    payload = _payload("message_shortcut.json")
    _set_workspace(payload, team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)
    payload["callback_id"] = callback_id
    payload["trigger_id"] = trigger_id or _new_trigger_id()
    payload["action_ts"] = _now_ts()
    payload["channel"]["id"] = channel_id
    payload["message"] = {"type": "message", "team": team_id, **copy.deepcopy(message)}
    payload["message_ts"] = message["ts"]
    payload["response_url"] = response_url
    return payload


def block_actions_payload(
    *,
    action_id: str,
    value: str | None = None,
    user_id: str = "U111",
    team_id: str = "T111",
    channel_id: str = "C111",
    message_ts: str = "111.222",
    block_id: str = "b",
    container: dict[str, Any] | None = None,
    extra_action: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    response_url: str = "https://hooks.slack.com/actions/T111/111/random-value",
    message: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """A click (or select...) in a message, or inside ``view`` when one is given.

    The template action is a button; ``extra_action`` is merged over it, and when it names
    another ``type`` the button-only ``text`` is dropped (e.g. ``{"type": "static_select",
    "selected_option": {...}}``).
    """
    payload = _payload("block_actions.json")
    _set_workspace(payload, team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)
    payload["trigger_id"] = trigger_id or _new_trigger_id()

    action = payload["actions"][0]
    action.update({"action_id": action_id, "block_id": block_id, "action_ts": _now_ts()})
    if value is None:
        action.pop("value", None)
    else:
        action["value"] = value
    if extra_action:
        if extra_action.get("type", "button") != "button":
            action.pop("text", None)
        action.update(copy.deepcopy(extra_action))

    if view is not None:
        # Actions inside a modal or Home tab carry the view instead of a channel, and Slack
        # gives no response_url for them.
        surface = copy.deepcopy(view)
        surface.setdefault("id", "V111")
        surface.setdefault("team_id", team_id)
        surface.setdefault("state", {"values": {}})
        surface.setdefault("hash", f"{int(time.time())}.{uuid.uuid4().hex[:8]}")
        surface.setdefault("app_id", APP_ID)
        payload["view"] = surface
        payload["container"] = container or {"type": "view", "view_id": surface["id"]}
        payload.pop("channel", None)
        payload.pop("response_url", None)
    else:
        payload["channel"]["id"] = channel_id
        payload["container"] = container or {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["response_url"] = response_url
        if message is not None:
            payload["message"] = copy.deepcopy(message)
    return payload


def view_submission_payload(
    *,
    callback_id: str,
    values: dict[str, Any],
    private_metadata: str = "",
    user_id: str = "U111",
    team_id: str = "T111",
    view_id: str = "V111",
    hash: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """A modal submission; ``values`` is ``view.state.values`` ({block_id: {action_id: ...}}).

    ``blocks`` replaces the template's single text input when the app reads the blocks too.
    """
    payload = _payload("view_submission.json")
    _set_workspace(payload, team_id=team_id, user_id=user_id, enterprise_id=enterprise_id)
    payload["trigger_id"] = trigger_id or _new_trigger_id()
    view = payload["view"]
    view.update(
        {
            "id": view_id,
            "root_view_id": view_id,
            "team_id": team_id,
            "app_installed_team_id": team_id,
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": copy.deepcopy(values)},
            "hash": hash or f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        }
    )
    if blocks is not None:
        view["blocks"] = copy.deepcopy(blocks)
    return payload


def event_body(
    event: dict[str, Any],
    *,
    team_id: str = "T111",
    event_id: str | None = None,
    api_app_id: str = APP_ID,
    enterprise_id: str | None = None,
    bot_user_id: str = "UBOT",
    org_wide: bool = False,
) -> bytes:
    """JSON ``event_callback`` envelope around ``event``, with a fresh ``event_id`` by default.

    ``event_ts`` is added to the event when missing (from its ``ts`` if it has one), since
    Slack always sends it.
    """
    envelope = _payload("event_message_thread_broadcast.json")
    inner = copy.deepcopy(event)
    inner.setdefault("event_ts", inner.get("ts") or _now_ts())
    # The template's event_context names its own channel; it would mislead apps reading it.
    envelope.pop("event_context", None)
    envelope.update(
        {
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": inner,
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": enterprise_id,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": org_wide,
                }
            ],
            "is_ext_shared_channel": False,
        }
    )
    if org_wide:
        envelope["is_enterprise_install"] = True
    if enterprise_id is None:
        envelope.pop("enterprise_id", None)
    else:
        envelope["enterprise_id"] = enterprise_id
    return json.dumps(envelope).encode("utf-8")


def function_executed_event(
    *,
    callback_id: str,
    inputs: dict[str, Any],
    execution_id: str,
    token: str,
    input_parameters: list[dict[str, Any]] | None = None,
    output_parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The `function_executed` event of one run of a custom step, for ``event_body``:
    its function (callback id and declared parameters), the run's inputs (people as user
    ids, an array of people as a list), its execution id and its own token (``xwfp-``)."""
    event: dict[str, Any] = _payload("event_function_executed.json")["event"]
    function = event["function"]
    function.update({"callback_id": callback_id, "title": callback_id, "description": ""})
    if input_parameters is not None:
        function["input_parameters"] = copy.deepcopy(input_parameters)
    if output_parameters is not None:
        function["output_parameters"] = copy.deepcopy(output_parameters)
    event.update(
        {
            "inputs": copy.deepcopy(inputs),
            "function_execution_id": execution_id,
            "bot_access_token": token,
            "event_ts": _now_ts(),
        }
    )
    return event


def url_verification_body(challenge: str | None = None) -> bytes:
    """The handshake Slack sends when the Request URL is saved; the app echoes ``challenge``."""
    body = _payload("url_verification.json")
    if challenge is not None:
        body["challenge"] = challenge
    return json.dumps(body).encode("utf-8")


def interactive_body(payload: dict[str, Any]) -> bytes:
    """Interactive payloads travel as a single form field holding the JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode("utf-8")


class SlackClientForTests:
    """Posts signed requests to the app's HTTP server the way Slack's delivery does."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        path: str = DEFAULT_PATH,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signing_secret = signing_secret
        self.path = path
        self.timeout = timeout
        # Wall time of the last post(); tests use it to check the 3-second ack budget.
        self.last_elapsed: float | None = None

    def post(
        self,
        path: str,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        signed: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """Send ``body``; returns status, lower-cased headers and body, even for 4xx/5xx.

        ``signature`` replaces the computed one (to test rejection); ``signed=False`` sends
        no Slack headers at all. Entries in ``headers`` win over the generated ones.
        """
        request_headers = {"Content-Type": content_type}
        if signed:
            request_headers.update(sign(body, self.signing_secret, timestamp))
            if signature is not None:
                request_headers["X-Slack-Signature"] = signature
        request = Request(self.base_url + path, data=body, method="POST")
        for name, value in {**request_headers, **(headers or {})}.items():
            # add_header normalises case, so a caller's "x-slack-signature" replaces ours.
            request.add_header(name, value)
        return self._send(request)

    def _send(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        started = time.perf_counter()
        try:
            with urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
                response_headers = dict(response.headers.items())
                data = response.read()
        except HTTPError as error:
            status = error.code
            response_headers = dict(error.headers.items())
            data = error.read()
        finally:
            self.last_elapsed = time.perf_counter() - started
        return status, {name.lower(): value for name, value in response_headers.items()}, data

    def command(self, *, path: str | None = None, **fields: Any) -> tuple[int, bytes]:
        """Send a slash command; ``fields`` are ``slash_command_body``'s arguments."""
        body = slash_command_body(**fields)
        status, _, data = self.post(path or self.path, body, FORM_CONTENT_TYPE)
        return status, data

    def interactive(self, payload: dict[str, Any], *, path: str | None = None) -> tuple[int, bytes]:
        status, _, data = self.post(path or self.path, interactive_body(payload), FORM_CONTENT_TYPE)
        return status, data

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        path: str | None = None,
        **envelope: Any,
    ) -> tuple[int, bytes]:
        """Deliver an event; ``retry_num`` marks it as Slack's n-th redelivery."""
        body = event_body(event, event_id=event_id, **envelope)
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        status, _, data = self.post(path or self.path, body, JSON_CONTENT_TYPE, headers=headers)
        return status, data

    def get(self, path: str) -> tuple[int, bytes]:
        status, _, data = self._send(Request(self.base_url + path, method="GET"))
        return status, data
