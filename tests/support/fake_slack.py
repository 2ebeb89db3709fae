"""A stateful, recording fake of the Slack Web API for tests.

Point a ``slack_sdk.WebClient(base_url=fake.url)`` (or a Bolt app's client) at it. Unlike
the stateless mock server bolt-python uses in its own tests, this one remembers users,
channels and posted messages, so a test can drive the app end to end and then assert on
what Slack would hold: ``fake.messages("C123")``, ``fake.calls_to("views.open")``...

Where behaviour matters for correctness (channel membership, archived channels, trigger ids
that work once, thread replies missing from ``conversations.history``), it follows the real
API, so code that only works against a too-friendly fake fails here first.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from tests.support.fake_socket_mode import FakeSocketMode

__all__ = ["BOT_ID", "DEFAULT_SCOPES", "Call", "Execution", "FakeSlack"]

DEFAULT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "im:history",
    "users:read",
    "channels:history",
    "groups:history",
    "channels:join",
    "channels:read",
    "groups:read",
    "reactions:read",
    "usergroups:read",
)
BOT_ID = "B111"
APP_ID = "A111"
WORKSPACE_URL = "https://example.slack.com/"
SLACKBOT_ID = "USLACKBOT"

# Slack's own limits, enforced so an oversized message fails here as it would in production.
MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_TEXT = 40_000

JsonDict = dict[str, Any]
Handler = Callable[[JsonDict, str], JsonDict]

# Slack spells tz_label out in full; zoneinfo only knows abbreviations, so map the common
# ones and fall back to the abbreviation for the rest.
_TZ_LABELS = {
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Time",
    "CEST": "Central European Summer Time",
    "UTC": "Coordinated Universal Time",
    "IST": "India Standard Time",
    "JST": "Japan Standard Time",
    "AEST": "Australian Eastern Standard Time",
    "AEDT": "Australian Eastern Daylight Time",
}


@dataclass
class Call:
    """One request the fake received, recorded whatever the answer was."""

    method: str
    params: dict[str, Any]
    token: str | None
    path: str


@dataclass
class Execution:
    """One run of a custom step: its function token, and how it ended (once)."""

    execution_id: str
    callback_id: str
    token: str
    output_names: list[str]
    required_outputs: list[str]
    state: str = "running"  # running | completed | failed
    outputs: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


@dataclass
class _Reply:
    status: int
    body: JsonDict | str
    headers: dict[str, str]


@dataclass
class _User:
    id: str
    team_id: str
    name: str
    real_name: str
    tz: str
    is_bot: bool
    deleted: bool
    is_restricted: bool
    is_admin: bool
    is_owner: bool

    def to_slack(self) -> JsonDict:
        # Offsets are computed per request so DST transitions behave like the real API.
        now = datetime.now(ZoneInfo(self.tz))
        offset = now.utcoffset()
        abbreviation = now.tzname() or self.tz
        profile: JsonDict = {
            "display_name": self.name,
            "real_name": self.real_name,
            "display_name_normalized": self.name,
            "real_name_normalized": self.real_name,
        }
        if self.is_bot and self.id != SLACKBOT_ID:
            profile["bot_id"] = BOT_ID
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": False,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": False,
            "tz": self.tz,
            "tz_label": _TZ_LABELS.get(abbreviation, abbreviation),
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
        }


@dataclass
class _Channel:
    id: str
    is_member: bool = True
    is_private: bool = False
    is_archived: bool = False
    exists: bool = True
    # A group DM: private, and neither a channel nor a private channel (a "group").
    is_mpim: bool = False


class _Server(ThreadingHTTPServer):
    # Daemon threads: a test that forgets stop() must not hang interpreter exit.
    daemon_threads = True

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.fake = fake


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        # The default handler writes every request to stderr, drowning pytest output.
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake._handle_http(self.path, self.headers, body)
        if reply.status == DROPPED:
            # The connection dies before any answer, as when a proxy or the network fails.
            self.close_connection = True
            self.connection.close()
            return
        if isinstance(reply.body, str):
            payload = reply.body.encode("utf-8")
            content_type = "text/html; charset=utf-8"
        else:
            payload = json.dumps(reply.body).encode("utf-8")
            content_type = "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _maybe_json(value: str) -> Any:
    """Decode form values that carry JSON (``blocks``, ``view``, ``metadata``...)."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flag(value: Any) -> bool:
    # slack_sdk turns booleans into "1"/"0" in form bodies; JSON bodies keep real booleans.
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


def _error(error: str, **extra: Any) -> JsonDict:
    return {"ok": False, "error": error, **extra}


def _public(message: JsonDict) -> JsonDict:
    # Slack omits absent fields rather than sending nulls.
    return {key: value for key, value in copy.deepcopy(message).items() if value is not None}


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


DROPPED = 0  # a reply status meaning: close the connection without answering
_CLIENT_AUTHENTICATED = {"oauth.v2.access", "oauth.v2.exchange", "openid.connect.token"}
# How long an id_token of Sign in with Slack is valid.
ID_TOKEN_SECONDS = 3600
_BOT_OR_USER_TOKENS = ("xoxb-", "xoxp-", "xoxe.xoxb-")
FUNCTION_TOKEN = "xwfp-"
_COMPLETIONS = {"functions.completeSuccess", "functions.completeError"}
# Methods that take the app-level token (xapp-) and no other; every other method refuses it.
_APP_TOKEN_METHODS = {"apps.connections.open"}


class FakeSlack:
    """A local Slack Web API on 127.0.0.1 with scriptable state and failures."""

    def __init__(
        self,
        team_id: str = "T111",
        bot_user_id: str = "UBOT",
        scopes: list[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.scopes: list[str] = list(DEFAULT_SCOPES) if scopes is None else list(scopes)
        # Message ts values derive from this clock, so apps that filter history by time
        # (``oldest=now - 7 days``) see the fake's messages where they expect them.
        self.clock = clock
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._users: dict[str, _User] = {}
        self._channels: dict[str, _Channel] = {}
        self._dm_users: dict[str, str] = {}
        self._messages: dict[str, list[JsonDict]] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._overrides: dict[str, JsonDict] = {}
        self._delays: dict[str, float] = {}
        self._drops: dict[str, deque[bool]] = {}
        self._home_views: dict[str, JsonDict] = {}
        self._usergroups: dict[str, JsonDict] = {}
        self._used_trigger_ids: set[str] = set()
        self._last_ts_micros = 0
        self._view_counter = 0
        # Bot tokens of other workspaces: auth.test answers for the token's own workspace.
        self._token_teams: dict[str, JsonDict] = {}
        self._org_teams: dict[str, list[JsonDict]] = {}
        # Tokens of an uninstalled app: every method answers token_revoked, as Slack does.
        self._revoked: set[str] = set()
        # Sign in with Slack (OpenID Connect): the app's client, who signs in next, the codes
        # given out, the key that signs id_tokens, and changes a test makes to the next one.
        self._oidc_clients: dict[str, str] = {}
        self._signing_in: tuple[str, str] | None = None
        self._codes: dict[str, JsonDict] = {}
        # Made when first used (`_signing_key`): an RSA key takes about 60 ms of CPU, and
        # most tests never sign anyone in.
        self._key: rsa.RSAPrivateKey | None = None
        self._key_lock = threading.Lock()
        self._kid = "fake-" + secrets.token_hex(4)
        self._next_id_token: JsonDict = {}
        self._next_id_token_key: rsa.RSAPrivateKey | None = None
        # Custom step runs by execution id, and their function tokens.
        self._executions: dict[str, Execution] = {}
        self._function_tokens: dict[str, str] = {}
        self._execution_counter = 0
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "auth.teams.list": self._auth_teams_list,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "usergroups.list": self._usergroups_list,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "openid.connect.token": self._openid_connect_token,
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
        }
        # Real workspaces always list Slackbot and the app's own bot user; code that walks
        # users.list has to cope with both.
        self.add_user(
            SLACKBOT_ID,
            name="slackbot",
            real_name="Slackbot",
            tz="America/Los_Angeles",
            is_bot=True,
        )
        self.add_user(bot_user_id, name="advocate", real_name="Advocate", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # stop() waits for the serve loop to notice; a short poll keeps teardown cheap.
            kwargs={"poll_interval": 0.01},
            name="fake-slack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        # WebClient appends the method name directly, so the trailing slash matters.
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def origin(self) -> str:
        """Where Slack's own pages are (the authorize page, the keys): the id_token's issuer."""
        return f"http://127.0.0.1:{self.port}"

    def response_url(self, key: str = "default") -> str:
        return f"http://127.0.0.1:{self.port}/response/{key}"

    # ------------------------------------------------------------------ recorded calls

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` arrived; for apps that call Slack lazily.
        It returns as soon as they have: the timeout only bounds a failing test, and leaves
        room for a machine running other tests at the same time."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                with self._lock:
                    seen = [call.method for call in self.calls]
                raise AssertionError(
                    f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}; "
                    f"calls received: {seen or 'none'}"
                )
            time.sleep(0.01)

    def response_url_posts(self, key: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted to response URLs (all keys, or one), oldest first."""
        return [
            call.params
            for call in self.calls_to("response_url")
            if key is None or call.params.get("_key") == key
        ]

    # ------------------------------------------------------------------ state control

    def add_usergroup(
        self,
        group_id: str,
        name: str,
        users: list[str],
        *,
        handle: str | None = None,
        auto_type: str | None = None,
        disabled: bool = False,
    ) -> None:
        """A user group as usergroups.list shows it (Slack's own admins/owners groups have
        an auto_type; a disabled one a date_delete)."""
        created = int(self.clock())
        with self._lock:
            self._usergroups[group_id] = {
                "id": group_id,
                "team_id": self.team_id,
                "is_usergroup": True,
                "is_subteam": True,
                "is_external": False,
                "auto_provision": False,
                "enterprise_subteam_id": "",
                "name": name,
                "description": "",
                "handle": handle or name.lower().replace(" ", "-"),
                "auto_type": auto_type,
                "created_by": "U0ADMIN",
                "updated_by": "U0ADMIN",
                "deleted_by": None,
                "date_create": created,
                "date_update": created,
                "date_delete": created if disabled else 0,
                "prefs": {"channels": [], "groups": []},
                "user_count": len(users),
                "users": list(users),
            }

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "America/New_York",
        is_bot: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
        team_id: str | None = None,
    ) -> None:
        ZoneInfo(tz)  # fail in the test that set it up, not later inside a request thread
        handle = name or user_id.lower()
        with self._lock:
            self._users[user_id] = _User(
                id=user_id,
                team_id=team_id or self.team_id,
                name=handle,
                real_name=real_name if real_name is not None else handle,
                tz=tz,
                is_bot=is_bot,
                deleted=deleted,
                is_restricted=is_restricted,
                is_admin=is_admin,
                is_owner=is_owner,
            )

    def add_token(
        self, token: str, team_id: str, name: str, *, enterprise_id: str | None = None
    ) -> None:
        """A bot token of another workspace: auth.test with it answers for `team_id`."""
        with self._lock:
            self._token_teams[token] = {"team_id": team_id, "team": name}
            if enterprise_id:
                self._token_teams[token]["enterprise_id"] = enterprise_id

    def add_org_token(self, token: str, enterprise_id: str, teams: dict[str, str]) -> None:
        """An org-wide bot token of Enterprise Grid: auth.test answers for the organisation
        (`is_enterprise_install`), auth.teams.list with the workspaces (id: name) it may
        act in."""
        with self._lock:
            self._token_teams[token] = {
                "team_id": enterprise_id,
                "team": "Org",
                "enterprise_id": enterprise_id,
                "is_enterprise_install": True,
            }
            self._org_teams[token] = [{"id": t, "name": n} for t, n in teams.items()]

    def openid_client(self, client_id: str, client_secret: str) -> None:
        """The app's client id and secret, which the authorize page and openid.connect.token
        accept (Sign in with Slack)."""
        with self._lock:
            self._oidc_clients[client_id] = client_secret

    def signin_as(self, user_id: str | None, team_id: str | None = None) -> None:
        """Who signs in on the authorize page from now on (the fake's own team by default);
        None: the person cancels, and the page sends them back with `error=access_denied`."""
        with self._lock:
            self._signing_in = None if user_id is None else (user_id, team_id or self.team_id)

    def next_id_token(self, *, other_key: bool = False, **claims: Any) -> None:
        """Change the next id_token openid.connect.token gives: claims replaced (None
        removes one; `exp` and `iat` as instants), or signed by a key not in the JWKS."""
        with self._lock:
            self._next_id_token = dict(claims)
            self._next_id_token_key = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if other_key
                else None
            )

    def execute(
        self,
        callback_id: str,
        inputs: dict[str, Any],
        *,
        execution_id: str | None = None,
        output_parameters: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Start a run of the app's custom step `callback_id`, as a workflow does: the
        `function_executed` event to deliver (``SlackClientForTests.event`` or a Socket
        Mode envelope), with a token of its own that works for this run only and only
        until it is completed."""
        from tests.support.slack_requests import function_executed_event

        with self._lock:
            self._execution_counter += 1
            number = self._execution_counter
            execution_id = execution_id or f"Fx{number:04d}{secrets.token_hex(4).upper()}"
            token = f"{FUNCTION_TOKEN}{number}-{secrets.token_hex(12)}"
            event = function_executed_event(
                callback_id=callback_id,
                inputs=inputs,
                execution_id=execution_id,
                token=token,
                output_parameters=output_parameters,
            )
            outputs = event["function"]["output_parameters"]
            self._executions[execution_id] = Execution(
                execution_id=execution_id,
                callback_id=callback_id,
                token=token,
                output_names=[p["name"] for p in outputs],
                required_outputs=[p["name"] for p in outputs if p.get("is_required")],
            )
            self._function_tokens[token] = execution_id
        return event

    def execution(self, execution_id: str) -> Execution:
        """A run of a custom step, as Slack holds it now."""
        with self._lock:
            return copy.deepcopy(self._executions[execution_id])

    def revoke(self, token: str) -> None:
        """Uninstall as Slack does: from now on every call with `token` is refused."""
        with self._lock:
            self._revoked.add(token)

    def set_channel(
        self,
        channel_id: str,
        *,
        is_member: bool = True,
        is_private: bool = False,
        is_archived: bool = False,
        exists: bool = True,
        is_mpim: bool = False,
    ) -> None:
        """Declare a channel's state; channels never declared behave as public, bot a member.
        `is_mpim`: a group DM (always private)."""
        with self._lock:
            self._channels[channel_id] = _Channel(
                channel_id, is_member, is_private or is_mpim, is_archived, exists, is_mpim
            )

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Queue ``times`` failures for ``method`` (also ``"response_url"``).

        ``status=429`` answers ``ratelimited`` with ``Retry-After`` (default 1 s); other
        statuses answer ``{"ok": false, "error": error or "internal_error"}``.
        """
        failure = _Failure(status=status, error=error, retry_after=retry_after)
        with self._lock:
            queue = self._failures.setdefault(method, deque())
            queue.extend(copy.copy(failure) for _ in range(times))

    def drop_next(self, method: str, *, after_processing: bool = False, times: int = 1) -> None:
        """Drop the connection on the next calls to ``method``, with no answer at all.

        ``after_processing=True`` drops it after the call took effect (a message was
        stored): the caller cannot tell, which is the case that tempts a double post.
        """
        with self._lock:
            self._drops.setdefault(method, deque()).extend([after_processing] * times)

    def set_response(self, method: str, body: dict[str, Any] | None) -> None:
        """Always answer ``method`` with ``body`` (after queued failures); None removes it."""
        with self._lock:
            if body is None:
                self._overrides.pop(method, None)
            else:
                self._overrides[method] = copy.deepcopy(body)

    def set_delay(self, method: str, seconds: float) -> None:
        """Hold answers to ``method`` (also ``"response_url"``) back, after the call took
        effect: to check the app acks Slack before slow API work, or to kill it mid-call."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def use_socket_mode(self, fake: FakeSocketMode) -> None:
        """Answer ``apps.connections.open`` with ``fake``'s URL, a fresh ticket per call."""
        with self._lock:
            self._handlers["apps.connections.open"] = lambda params, token: {
                "ok": True,
                "url": fake.url,
            }

    def add_message(
        self, channel: str, *, user: str, text: str, thread_ts: str | None = None
    ) -> str:
        """A message a person posted (not the app); returns its ts."""
        with self._lock:
            ts = self._next_ts()
            self._messages.setdefault(channel, []).append(
                {
                    "type": "message",
                    "ts": ts,
                    "text": text,
                    "blocks": None,
                    "metadata": None,
                    "user": user,
                    "bot_id": None,
                    "thread_ts": thread_ts,
                }
            )
            return ts

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages posted to a channel (a user id means their DM), oldest first, replies included.

        Stored dicts always carry ts, text, blocks, metadata, user, bot_id and thread_ts (None
        when absent), unlike API answers, which omit absent fields as Slack does.
        """
        with self._lock:
            return copy.deepcopy(self._messages.get(self._dm_channel_for(channel), []))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The view last published to ``user_id``'s Home tab, if any."""
        with self._lock:
            view = self._home_views.get(user_id)
            return copy.deepcopy(view) if view is not None else None

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle_http(self, raw_path: str, headers: Message, body: bytes) -> _Reply:
        parts = urlsplit(raw_path)
        try:
            params = self._parse_params(headers.get("Content-Type", ""), body, parts.query)
        except ValueError:
            params = None
        if parts.path.startswith("/api/") and len(parts.path) > len("/api/"):
            return self._handle_api(parts.path[len("/api/") :], parts.path, headers, params)
        if parts.path.startswith("/response/"):
            return self._handle_response_url(parts.path, params)
        if parts.path == "/openid/connect/authorize":
            with self._lock:
                return self._authorize(params or {})
        if parts.path == "/openid/connect/keys":
            with self._lock:
                self.calls.append(Call("openid.connect.keys", {}, None, parts.path))
            return _Reply(HTTPStatus.OK, self.jwks(), {})
        return _Reply(HTTPStatus.NOT_FOUND, "not found", {})

    @staticmethod
    def _parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            key: _maybe_json(value) for key, value in parse_qsl(query, keep_blank_values=True)
        }
        if not body:
            return params
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body is not an object")
            params.update(decoded)
        elif media_type == "multipart/form-data":
            # Only file uploads use multipart; keep text fields decoded, files as raw bytes.
            envelope = f"Content-Type: {content_type}\r\n\r\n".encode() + body
            message = BytesParser(policy=HTTP).parsebytes(envelope)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                raw = part.get_payload(decode=True)
                if not isinstance(name, str) or not isinstance(raw, bytes):
                    continue
                is_file = part.get_filename() is not None
                params[name] = raw if is_file else _maybe_json(raw.decode("utf-8"))
        else:
            text = body.decode("utf-8")
            params.update(
                (key, _maybe_json(value)) for key, value in parse_qsl(text, keep_blank_values=True)
            )
        return params

    def _handle_api(
        self, method: str, path: str, headers: Message, params: dict[str, Any] | None
    ) -> _Reply:
        authorization = headers.get("Authorization", "")
        token: str | None = None
        if authorization.lower().startswith("bearer "):
            token = authorization[len("bearer ") :].strip() or None
        if token is None and params is not None and isinstance(params.get("token"), str):
            token = params["token"]
        if authorization.lower().startswith("basic ") and params is not None:
            # Client credentials in a Basic header, as slack_sdk sends them for OAuth methods.
            try:
                decoded = base64.b64decode(authorization[len("basic ") :].strip()).decode()
            except ValueError:
                decoded = ""
            client_id, _, client_secret = decoded.partition(":")
            params.setdefault("client_id", unquote(client_id))
            params.setdefault("client_secret", unquote(client_secret))
        with self._lock:
            drop = self._drops.get(method)
            if drop:
                processed = drop.popleft()
                if not drop:
                    del self._drops[method]
                if processed:
                    self._api_reply(method, params, token)
                self.calls.append(Call(method=method, params=params or {}, token=token, path=path))
                return _Reply(DROPPED, "", {})
            # State changes and the recording happen together, so a test woken by
            # wait_for() already sees the message the call stored.
            reply = self._api_reply(method, params, token)
            self.calls.append(Call(method=method, params=params or {}, token=token, path=path))
            delay = self._delays.get(method, 0.0)
        if delay:
            time.sleep(delay)
        reply.headers.setdefault("x-oauth-scopes", ",".join(self.scopes))
        return reply

    def _api_reply(self, method: str, params: dict[str, Any] | None, token: str | None) -> _Reply:
        failure = self._take_failure(method)
        if failure is not None:
            return self._failure_reply(failure)
        if params is None:
            return _Reply(HTTPStatus.OK, _error("invalid_json"), {})
        # OAuth methods authenticate with the app's client id and secret, not a token; rotated
        # tokens start with xoxe.
        if token is not None and token.startswith(FUNCTION_TOKEN):
            refused = self._function_token_refusal(method, params, token)
            if refused is not None:
                return _Reply(HTTPStatus.OK, _error(refused), {})
        elif method in _COMPLETIONS:
            # Only the run's own token completes it.
            known = token is not None and token.startswith(_BOT_OR_USER_TOKENS)
            return _Reply(
                HTTPStatus.OK, _error("not_allowed_token_type" if known else "not_authed"), {}
            )
        elif method not in _CLIENT_AUTHENTICATED:
            accepted = ("xapp-",) if method in _APP_TOKEN_METHODS else _BOT_OR_USER_TOKENS
            if token is None or not token.startswith(accepted):
                # A real token of the wrong kind is told so, as Slack does.
                known = token is not None and token.startswith(("xapp-", *_BOT_OR_USER_TOKENS))
                error = "not_allowed_token_type" if known else "not_authed"
                return _Reply(HTTPStatus.OK, _error(error), {})
        if token in self._revoked:
            return _Reply(HTTPStatus.OK, _error("token_revoked"), {})
        if method in self._overrides:
            return _Reply(HTTPStatus.OK, copy.deepcopy(self._overrides[method]), {})
        handler = self._handlers.get(method)
        body = handler(params, token) if handler is not None else {"ok": True}
        return _Reply(HTTPStatus.OK, body, {})

    def _function_token_refusal(self, method: str, params: JsonDict, token: str) -> str | None:
        """Why Slack refuses a call made with a function token, or None. The token works
        for its own run only, and only while that run is not completed; completing it
        again is answered as Slack answers it."""
        execution_id = self._function_tokens.get(token)
        if execution_id is None:
            return "invalid_auth"
        execution = self._executions[execution_id]
        if method in _COMPLETIONS:
            if params.get("function_execution_id") != execution_id:
                return "access_denied"
            if execution.state != "running":
                return "function_execution_not_found"
            return None
        if execution.state != "running":
            return "invalid_auth"
        return None

    def _handle_response_url(self, path: str, params: dict[str, Any] | None) -> _Reply:
        key = unquote(path[len("/response/") :])
        recorded = {**(params or {}), "_key": key}
        with self._lock:
            failure = self._take_failure("response_url")
            self.calls.append(Call(method="response_url", params=recorded, token=None, path=path))
            delay = self._delays.get("response_url", 0.0)
        if delay:
            time.sleep(delay)
        if failure is not None:
            # response_url answers plain text, not the Web API's JSON envelope.
            text = failure.error or HTTPStatus(failure.status).phrase
            return _Reply(failure.status, text, self._retry_after_header(failure))
        return _Reply(HTTPStatus.OK, "ok", {})

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    @staticmethod
    def _retry_after_header(failure: _Failure) -> dict[str, str]:
        retry_after = failure.retry_after
        if retry_after is None and failure.status == HTTPStatus.TOO_MANY_REQUESTS:
            retry_after = 1
        return {"Retry-After": str(retry_after)} if retry_after is not None else {}

    def _failure_reply(self, failure: _Failure) -> _Reply:
        rate_limited = failure.status == HTTPStatus.TOO_MANY_REQUESTS
        default = "ratelimited" if rate_limited else "internal_error"
        return _Reply(
            failure.status,
            _error(failure.error or default),
            self._retry_after_header(failure),
        )

    # ------------------------------------------------------------------ shared helpers

    def _next_ts(self) -> str:
        now = int(self.clock() * 1_000_000)
        # Slack ts values are unique per channel and ordered; step 100 µs past a tie.
        self._last_ts_micros = max(now, self._last_ts_micros + 100)
        return _format_ts(self._last_ts_micros)

    def _dm_channel_for(self, channel: str) -> str:
        # Posting to a user id lands in the app's DM with that user (its Messages tab).
        if channel[:1] in ("U", "W"):
            dm = "D" + channel[1:]
            self._dm_users.setdefault(dm, channel)
            return dm
        return channel

    def _channel(self, channel_id: str) -> _Channel:
        return self._channels.get(channel_id) or _Channel(channel_id)

    def _post_target(self, channel: Any) -> tuple[str, str | None]:
        """Resolve where a chat.post* call lands, or the error Slack would give."""
        if not isinstance(channel, str) or not channel:
            return "", "channel_not_found"
        if channel[:1] in ("U", "W", "D"):
            return self._dm_channel_for(channel), None
        state = self._channel(channel)
        if not state.exists:
            return channel, "channel_not_found"
        if state.is_archived:
            return channel, "is_archived"
        if not state.is_member:
            if state.is_private:
                # Slack hides private channels the bot is not in.
                return channel, "channel_not_found"
            if "chat:write.public" not in self.scopes:
                return channel, "not_in_channel"
        return channel, None

    def _readable_channel(self, channel: Any) -> tuple[str, str | None]:
        """Resolve a channel for reading (history, replies): membership is required."""
        if not isinstance(channel, str) or not channel or channel[:1] in ("U", "W"):
            return "", "channel_not_found"
        if channel[:1] == "D":
            return channel, None
        state = self._channel(channel)
        if not state.exists or (state.is_private and not state.is_member):
            return channel, "channel_not_found"
        if not state.is_member:
            return channel, "not_in_channel"
        return channel, None

    def _find_message(self, channel: str, ts: Any) -> JsonDict | None:
        for message in self._messages.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    def _channel_json(self, channel_id: str) -> JsonDict:
        if channel_id[:1] == "D":
            return {
                "id": channel_id,
                "is_im": True,
                "is_mpim": False,
                "is_channel": False,
                "is_group": False,
                "is_private": True,
                "is_archived": False,
                "is_member": True,
                "user": self._dm_users.get(channel_id, "U" + channel_id[1:]),
            }
        state = self._channel(channel_id)
        return {
            "id": channel_id,
            "name": ("mpdm-" if state.is_mpim else "c-") + channel_id,
            "is_im": False,
            "is_mpim": state.is_mpim,
            "is_channel": not state.is_private,
            "is_group": state.is_private and not state.is_mpim,
            "is_private": state.is_private,
            "is_archived": state.is_archived,
            "is_member": state.is_member,
        }

    # ------------------------------------------------------------------ method handlers

    def _auth_test(self, params: JsonDict, token: str) -> JsonDict:
        answer = {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": "Example",
            "user": "advocate",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
        answer.update(self._token_teams.get(token, {}))
        return answer

    def _auth_teams_list(self, params: JsonDict, token: str) -> JsonDict:
        teams = self._org_teams.get(token)
        if teams is None:
            # A workspace token: Slack answers with its own workspace.
            return {"ok": True, "teams": [{"id": self.team_id, "name": "Example"}]}
        return {"ok": True, "teams": teams, "response_metadata": {"next_cursor": ""}}

    def _users_info(self, params: JsonDict, token: str) -> JsonDict:
        user = self._users.get(str(params.get("user", "")))
        if user is None:
            return _error("user_not_found")
        return {"ok": True, "user": user.to_slack()}

    def _usergroups_list(self, params: JsonDict, token: str) -> JsonDict:
        if "usergroups:read" not in self.scopes:
            return {**_error("missing_scope"), "needed": "usergroups:read"}
        with_users = str(params.get("include_users", "")).lower() in ("1", "true")
        with_disabled = str(params.get("include_disabled", "")).lower() in ("1", "true")
        groups = []
        for group in self._usergroups.values():
            if group["date_delete"] and not with_disabled:
                continue
            shown = {key: value for key, value in group.items() if key != "users"}
            if with_users:
                shown["users"] = list(group["users"])
            groups.append(shown)
        return {"ok": True, "usergroups": groups}

    def _users_list(self, params: JsonDict, token: str) -> JsonDict:
        return {
            "ok": True,
            "members": [user.to_slack() for user in self._users.values()],
            "cache_ts": int(self.clock()),
            "response_metadata": {"next_cursor": ""},
        }

    @staticmethod
    def _message_content_error(params: JsonDict) -> str | None:
        blocks = params.get("blocks")
        text = params.get("text")
        if not text and not blocks and not params.get("attachments"):
            return "no_text"
        if blocks is not None and not (
            isinstance(blocks, list) and len(blocks) <= MAX_MESSAGE_BLOCKS
        ):
            return "invalid_blocks"
        if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
            return "msg_too_long"
        return None

    def _chat_post_message(self, params: JsonDict, token: str) -> JsonDict:
        channel, error = self._post_target(params.get("channel"))
        error = error or self._message_content_error(params)
        if error:
            return _error(error)
        ts = self._next_ts()
        thread_ts = params.get("thread_ts") or None
        message: JsonDict = {
            "type": "message",
            "ts": ts,
            "text": params.get("text", ""),
            "blocks": params.get("blocks"),
            "metadata": params.get("metadata"),
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "thread_ts": thread_ts,
        }
        if thread_ts and _flag(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": _public(message)}

    def _chat_post_ephemeral(self, params: JsonDict, token: str) -> JsonDict:
        _, error = self._post_target(params.get("channel"))
        error = error or self._message_content_error(params)
        if error:
            return _error(error)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: JsonDict, token: str) -> JsonDict:
        channel, error = self._post_target(params.get("channel"))
        if error:
            return _error(error)
        message = self._find_message(channel, params.get("ts"))
        if message is None:
            return _error("message_not_found")
        for key in ("text", "blocks", "metadata"):
            if key in params:
                message[key] = params[key]
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": _public(message),
        }

    def _chat_delete(self, params: JsonDict, token: str) -> JsonDict:
        channel, error = self._post_target(params.get("channel"))
        if error:
            return _error(error)
        message = self._find_message(channel, params.get("ts"))
        if message is None:
            return _error("message_not_found")
        self._messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_get_permalink(self, params: JsonDict, token: str) -> JsonDict:
        channel = self._dm_channel_for(str(params.get("channel", "")))
        ts = str(params.get("message_ts", ""))
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _conversations_open(self, params: JsonDict, token: str) -> JsonDict:
        if params.get("channel"):
            return {"ok": True, "channel": {"id": str(params["channel"])}}
        users = params.get("users")
        # slack_sdk joins a list with commas; raw callers may send a JSON array.
        user_ids = users if isinstance(users, list) else str(users or "").split(",")
        user_ids = [user.strip() for user in user_ids if str(user).strip()]
        if not user_ids:
            return _error("users_list_not_supplied")
        return {"ok": True, "channel": {"id": self._dm_channel_for(user_ids[0])}}

    def _conversations_history(self, params: JsonDict, token: str) -> JsonDict:
        channel, error = self._readable_channel(params.get("channel"))
        if error:
            return _error(error)
        inclusive = _flag(params.get("inclusive"))
        oldest = float(params["oldest"]) if params.get("oldest") else None
        latest = float(params["latest"]) if params.get("latest") else None

        def in_range(message: JsonDict) -> bool:
            ts = float(message["ts"])
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                return False
            return latest is None or ts < latest or (ts == latest and inclusive)

        # Like Slack, thread replies stay out of history unless broadcast to the channel.
        visible = [
            message
            for message in self._messages.get(channel, [])
            if message["thread_ts"] in (None, message["ts"])
            or message.get("subtype") == "thread_broadcast"
        ]
        newest_first = sorted(
            (m for m in visible if in_range(m)), key=lambda m: float(m["ts"]), reverse=True
        )
        return self._page(params, "messages", [_public(m) for m in newest_first])

    def _conversations_replies(self, params: JsonDict, token: str) -> JsonDict:
        channel, error = self._readable_channel(params.get("channel"))
        if error:
            return _error(error)
        ts = params.get("ts")
        thread = [
            message
            for message in self._messages.get(channel, [])
            if message["ts"] == ts or message["thread_ts"] == ts
        ]
        if not thread:
            return _error("thread_not_found")
        oldest_first = sorted(thread, key=lambda m: float(m["ts"]))
        return self._page(params, "messages", [_public(m) for m in oldest_first])

    @staticmethod
    def _page(params: JsonDict, key: str, items: list[JsonDict]) -> JsonDict:
        # Cursor pagination is honoured so paging loops terminate exactly as against Slack.
        limit = int(params.get("limit") or 100)
        cursor = str(params.get("cursor") or "")
        start = int(cursor.removeprefix("offset:")) if cursor.startswith("offset:") else 0
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        return {
            "ok": True,
            key: page,
            "has_more": has_more,
            "response_metadata": {"next_cursor": f"offset:{start + limit}" if has_more else ""},
        }

    def _conversations_info(self, params: JsonDict, token: str) -> JsonDict:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel or channel[:1] in ("U", "W"):
            return _error("channel_not_found")
        if channel[:1] != "D" and not self._channel(channel).exists:
            return _error("channel_not_found")
        return {"ok": True, "channel": self._channel_json(channel)}

    def _conversations_join(self, params: JsonDict, token: str) -> JsonDict:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel or channel[:1] in ("U", "W"):
            return _error("channel_not_found")
        if channel[:1] == "D":
            return _error("method_not_supported_for_channel_type")
        state = self._channels.setdefault(channel, _Channel(channel))
        if not state.exists:
            return _error("channel_not_found")
        if state.is_private:
            return _error("method_not_supported_for_channel_type")
        if state.is_archived:
            return _error("is_archived")
        state.is_member = True
        return {"ok": True, "channel": self._channel_json(channel)}

    def _view_answer(self, view: JsonDict, view_id: str | None = None) -> JsonDict:
        if view_id is None:
            self._view_counter += 1
            view_id = f"V{self._view_counter}"
        return {
            "ok": True,
            "view": {
                "team_id": self.team_id,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "state": {"values": {}},
                "root_view_id": view_id,
                **view,
                "id": view_id,
                "hash": "h",
            },
        }

    def _views_open(self, params: JsonDict, token: str) -> JsonDict:
        trigger_id = params.get("trigger_id")
        view = params.get("view")
        if not trigger_id:
            return _error("invalid_trigger_id")
        if trigger_id == "expired":
            return _error("expired_trigger_id")
        if trigger_id in self._used_trigger_ids:
            # A trigger id opens one view; a second use fails in Slack too.
            return _error("exchanged_trigger_id")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        self._used_trigger_ids.add(str(trigger_id))
        return self._view_answer(view)

    def _views_update(self, params: JsonDict, token: str) -> JsonDict:
        view = params.get("view")
        view_id = params.get("view_id")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        # Any view id is accepted: tests update views that payload builders made up ("V111").
        return self._view_answer(view, str(view_id) if view_id else None)

    def _running(self, params: JsonDict) -> Execution | str:
        execution = self._executions.get(str(params.get("function_execution_id") or ""))
        if execution is None:
            return "function_execution_not_found"
        if execution.state != "running":
            return "execution_not_in_running_state"
        return execution

    def _functions_complete_success(self, params: JsonDict, token: str) -> JsonDict:
        execution = self._running(params)
        if isinstance(execution, str):
            return _error(execution)
        outputs = params.get("outputs")
        if not isinstance(outputs, dict):
            return _error("invalid_arguments")
        unknown = [name for name in outputs if name not in execution.output_names]
        missing = [name for name in execution.required_outputs if name not in outputs]
        if unknown or missing:
            return _error("parameter_validation_failed")
        execution.state = "completed"
        execution.outputs = copy.deepcopy(outputs)
        return {"ok": True}

    def _functions_complete_error(self, params: JsonDict, token: str) -> JsonDict:
        execution = self._running(params)
        if isinstance(execution, str):
            return _error(execution)
        error = params.get("error")
        if not isinstance(error, str) or not error:
            return _error("invalid_arguments")
        execution.state = "failed"
        execution.error = error
        return {"ok": True}

    def _views_publish(self, params: JsonDict, token: str) -> JsonDict:
        view = params.get("view")
        user_id = params.get("user_id")
        if not isinstance(view, dict):
            return _error("invalid_arguments")
        if not isinstance(user_id, str) or not user_id:
            return _error("invalid_arguments")
        answer = self._view_answer(view)
        self._home_views[user_id] = copy.deepcopy(answer["view"])
        return answer

    # ------------------------------------------------------------------ Sign in with Slack

    @property
    def _signing_key(self) -> rsa.RSAPrivateKey:
        """This fake Slack's own key, which signs its id_tokens."""
        with self._key_lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def jwks(self) -> JsonDict:
        """The keys that sign id_tokens, as Slack publishes them at /openid/connect/keys."""
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self._signing_key.public_key(), as_dict=True)
        return {"keys": [{**key, "kid": self._kid, "alg": "RS256", "use": "sig"}]}

    def _authorize(self, params: JsonDict) -> _Reply:
        """Slack's authorize page, where the person has already agreed: straight back to the
        app's redirect_uri with a code, or an error."""
        self.calls.append(
            Call("openid.connect.authorize", dict(params), None, "/openid/connect/authorize")
        )
        client_id = str(params.get("client_id") or "")
        redirect_uri = str(params.get("redirect_uri") or "")
        if client_id not in self._oidc_clients or not redirect_uri.startswith("http"):
            return _Reply(HTTPStatus.BAD_REQUEST, "invalid client_id or redirect_uri", {})
        state = str(params.get("state") or "")

        def back(**answer: str) -> _Reply:
            query = urlencode({**answer, "state": state})
            separator = "&" if "?" in redirect_uri else "?"
            return _Reply(HTTPStatus.FOUND, "", {"Location": f"{redirect_uri}{separator}{query}"})

        # Slack takes scopes apart by commas (as slack_sdk joins them) or spaces (as OIDC does).
        if "openid" not in str(params.get("scope") or "").replace(",", " ").split():
            return back(error="invalid_scope")
        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if self._signing_in is None:
            return back(error="access_denied")
        code = secrets.token_urlsafe(16)
        user_id, team_id = self._signing_in
        self._codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "nonce": params.get("nonce"),
            "user_id": user_id,
            "team_id": team_id,
        }
        return back(code=code)

    def _openid_connect_token(self, params: JsonDict, token: str | None) -> JsonDict:
        client_id = str(params.get("client_id") or "")
        if client_id not in self._oidc_clients:
            return _error("invalid_client_id")
        if params.get("client_secret") != self._oidc_clients[client_id]:
            return _error("bad_client_secret")
        # A code works once, for the client and redirect_uri it was given to.
        granted = self._codes.pop(str(params.get("code") or ""), None)
        if granted is None or granted["client_id"] != client_id:
            return _error("invalid_code")
        if params.get("redirect_uri") != granted["redirect_uri"]:
            return _error("bad_redirect_uri")
        user = self._users.get(granted["user_id"])
        now = int(time.time())  # what id_tokens are checked against: the real clock
        claims: JsonDict = {
            "iss": self.origin,
            "sub": granted["user_id"],
            "aud": client_id,
            "exp": now + ID_TOKEN_SECONDS,
            "iat": now,
            "auth_time": now,
            "nonce": granted["nonce"],
            "https://slack.com/user_id": granted["user_id"],
            "https://slack.com/team_id": granted["team_id"],
            "https://slack.com/team_name": "Example",
            "https://slack.com/team_domain": "example",
            "name": user.real_name if user else granted["user_id"],
            "email": f"{granted['user_id'].lower()}@example.com",
            "email_verified": True,
            "locale": "en-US",
        }
        for name, value in self._next_id_token.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self._next_id_token_key or self._signing_key
        self._next_id_token, self._next_id_token_key = {}, None
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self._kid})
        return {
            "ok": True,
            "access_token": "xoxp-signin-" + secrets.token_hex(8),
            "token_type": "Bearer",
            "id_token": id_token,
        }
