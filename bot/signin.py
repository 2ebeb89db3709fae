"""Sign in with Slack (OpenID Connect) for the web pages, and who is looking at them.

    GET /slack/signin            a one-time state (stored, 10 minutes) and its nonce;
                                 302 to Slack's authorize page
    GET /slack/signin_redirect   the state taken once; the code exchanged
                                 (openid.connect.token); the id_token verified (Slack's
                                 keys, RS256, aud, iss, exp, the nonce); the person's
                                 workspace must be one the app serves; a session row and
                                 its signed cookie; 302 back where they were going
    POST /slack/signout          the session row deleted, the cookie cleared

Every request to a page finds its viewer again (`SignIn.viewer`): the session must not have
expired, its workspace must still be installed and the person not deactivated, and whether
they are an admin is read then, not remembered from the sign-in.

Slack's endpoints derive from SLACK_API_URL's origin, so GovSlack and a test server work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth import OpenIDConnectAuthorizeUrlGenerator

from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import sessions, workspaces
from bot.services import settings as workspace_settings
from bot.slack import people

log = logging.getLogger(__name__)

SIGNIN_PATH = "/slack/signin"
REDIRECT_PATH = "/slack/signin_redirect"
SIGNOUT_PATH = "/slack/signout"
SESSION_COOKIE = "advocate_session"
# Ties the state to the browser that asked for it: a redirect with a state started
# elsewhere (someone else's sign-in link) is refused.
STATE_COOKIE = "advocate_signin"
SCOPES = ("openid", "email", "profile")
DEFAULT_RETURN = "/insights"
# Headers every page of sign-in and of the insights carries.
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]
_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Page = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: a person of one workspace, an admin of it or not."""

    team_id: str
    user_id: str
    name: str
    is_admin: bool


class Refused(Exception):
    """A sign-in that must not go on: `status` and a reason for the log (no secrets)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SignIn:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert settings.slack_client_id and settings.slack_client_secret
        self.runtime = runtime
        self.client_id = settings.slack_client_id
        self.client_secret = settings.slack_client_secret
        self.origin = settings.slack_origin
        self.jwks = jwt.PyJWKClient(f"{self.origin}/openid/connect/keys", lifespan=300)
        # The cookie's key, derived from the client secret: a new secret ends every session.
        self.cookie_key = hmac.new(
            settings.slack_client_secret.encode(), b"advocate web session", hashlib.sha256
        ).digest()

    # ------------------------------------------------------------------ the flow

    def begin(self, environ: dict[str, Any]) -> Page:
        """302 to Slack's authorize page with a new one-time state and its nonce."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return_to = local_path((query.get("next") or [""])[0])
        started = sessions.start(self.runtime.db, return_to, self.runtime.clock())
        generator = OpenIDConnectAuthorizeUrlGenerator(
            client_id=self.client_id,
            redirect_uri=redirect_uri(environ),
            scopes=list(SCOPES),
            authorization_url=f"{self.origin}/openid/connect/authorize",
        )
        location = generator.generate(state=started.state, nonce=started.nonce)
        lifetime = int(sessions.STATE_LIFETIME.total_seconds())
        state_cookie = self._cookie(environ, STATE_COOKIE, self._signed(started.state), lifetime)
        return redirect(location, [state_cookie])

    def finish(self, environ: dict[str, Any]) -> Page:
        """Slack sent the person back: sign them in, or refuse with nothing shown."""
        try:
            session_id, return_to = self._finish(environ)
        except Refused as refused:
            log.warning("sign-in refused: %s", refused.reason)
            status, headers, body = refusal(refused.status)
            return status, [*headers, self._cookie(environ, STATE_COOKIE, "", 0)], body
        cookies = [
            self._cookie(
                environ,
                SESSION_COOKIE,
                self._signed(session_id),
                int(sessions.SESSION_LIFETIME.total_seconds()),
            ),
            self._cookie(environ, STATE_COOKIE, "", 0),
        ]
        return redirect(return_to, cookies)

    def _finish(self, environ: dict[str, Any]) -> tuple[str, str]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if query.get("error"):
            raise Refused("403 Forbidden", "Slack said the person did not sign in")
        state, code = query.get("state", ""), query.get("code", "")
        if not state or not code:
            raise Refused("400 Bad Request", "no state or no code")
        bound = self._unsigned(cookies_of(environ).get(STATE_COOKIE, ""))
        if bound is None or not hmac.compare_digest(bound, state):
            raise Refused("400 Bad Request", "the state was not started in this browser")
        now = self.runtime.clock()
        taken = sessions.take(self.runtime.db, state, now)
        if taken is None:
            raise Refused("400 Bad Request", "unknown, expired or used state")
        claims = self._verified_claims(self._exchange(code, redirect_uri(environ)))
        if not hmac.compare_digest(str(claims.get("nonce", "")), taken.nonce):
            raise Refused("401 Unauthorized", "the id_token's nonce is not the state's")
        team_id = str(claims.get("https://slack.com/team_id") or "")
        user_id = str(claims.get("https://slack.com/user_id") or "")
        if not team_id or not user_id:
            raise Refused("401 Unauthorized", "the id_token names no workspace or person")
        workspace = self._served(team_id)
        if workspace is None:
            raise Refused("403 Forbidden", f"workspace {team_id} is not served")
        person = self._person(workspace, user_id, fresh=True)
        if person is None or person.deleted or person.is_bot:
            raise Refused("403 Forbidden", f"{user_id} of {team_id} is not an active person")
        session_id = sessions.open_session(self.runtime.db, workspace, user_id, now)
        log.info("%s of %s signed in", user_id, team_id)
        return session_id, taken.return_to

    def _exchange(self, code: str, redirect: str) -> str:
        client = WebClient(base_url=self.runtime.settings.slack_api_url, timeout=10)
        try:
            answer = client.openid_connect_token(
                client_id=self.client_id,
                client_secret=self.client_secret,
                code=code,
                redirect_uri=redirect,
            )
        except SlackApiError as error:
            raise Refused(
                "401 Unauthorized", f"openid.connect.token: {error.response.get('error')}"
            ) from None
        except (SlackClientError, OSError) as error:
            raise Refused(
                "502 Bad Gateway", f"openid.connect.token failed: {type(error).__name__}"
            ) from None
        token = answer.get("id_token")
        if not isinstance(token, str):
            raise Refused("401 Unauthorized", "openid.connect.token gave no id_token")
        return token

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The id_token's claims once its signature (Slack's keys), audience, issuer and
        expiry are checked."""
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.client_id,
                issuer=self.origin,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise Refused("401 Unauthorized", f"id_token refused: {type(error).__name__}") from None
        return claims

    def sign_out(self, environ: dict[str, Any]) -> Page:
        """POST: end the session and clear the cookie. GET: a page whose button posts."""
        if environ.get("REQUEST_METHOD") != "POST":
            return page(
                "200 OK",
                "Sign out",
                f'<form method="post" action="{SIGNOUT_PATH}">'
                '<button type="submit">Sign out</button></form>',
            )
        session_id = self._unsigned(cookies_of(environ).get(SESSION_COOKIE, ""))
        if session_id is not None:
            sessions.end(self.runtime.db, session_id)
        done = page(
            "200 OK",
            "Signed out",
            f'<p>You are signed out.</p><p><a href="{SIGNIN_PATH}">Sign in again</a></p>',
        )
        return done[0], [*done[1], self._cookie(environ, SESSION_COOKIE, "", 0)], done[2]

    # ------------------------------------------------------------------ each request

    def viewer(self, environ: dict[str, Any]) -> Viewer | None:
        """Who the request's session belongs to, checked now; None when there is no valid
        session (none, tampered, expired, workspace uninstalled, person deactivated)."""
        raw = cookies_of(environ).get(SESSION_COOKIE)
        if not raw:
            return None
        session_id = self._unsigned(raw)
        if session_id is None:
            log.warning("a session cookie with a wrong signature was refused")
            return None
        db = self.runtime.db
        found = sessions.find(db, session_id, self.runtime.clock())
        if found is None:
            return None
        workspace = self._served(found.team_id)
        if workspace is None:
            sessions.end_for_workspace(db, Workspace(found.team_id, found.enterprise_id))
            return None
        person = self._person(workspace, found.user_id, fresh=False)
        if person is None or person.deleted:
            sessions.end_for_person(db, workspace, found.user_id)
            log.info("ended the sessions of %s of %s: deactivated", found.user_id, found.team_id)
            return None
        config = workspace_settings.for_workspace(db, workspace, self.runtime.settings)
        admin = workspace_settings.is_admin(db, workspace, config, found.user_id, person)
        return Viewer(workspace.team_id, found.user_id, person.name, admin)

    def not_signed_in(self, environ: dict[str, Any]) -> Page:
        """A page asked for without a valid session: to sign-in, and back here after; a
        session cookie that did not hold is cleared."""
        cleared = []
        if SESSION_COOKIE in cookies_of(environ):
            cleared.append(self._cookie(environ, SESSION_COOKIE, "", 0))
        return redirect(self.signin_location(environ), cleared)

    def signin_location(self, environ: dict[str, Any]) -> str:
        """Where a request without a session goes: sign-in, then back to this page."""
        here = environ.get("PATH_INFO") or DEFAULT_RETURN
        if environ.get("QUERY_STRING"):
            here += "?" + environ["QUERY_STRING"]
        return f"{SIGNIN_PATH}?{urlencode({'next': local_path(here)})}"

    # ------------------------------------------------------------------ helpers

    def _served(self, team_id: str) -> Workspace | None:
        """The workspace, if the app is installed there now (its row, and a token for it)."""
        found = workspaces.served(self.runtime.db, team_id)
        if found is None:
            return None
        workspace = found[0]
        try:
            return workspace if self.runtime.clients.serves(workspace) else None
        except (SlackApiError, SlackClientError, OSError, LookupError):
            return None

    def _person(self, workspace: Workspace, user_id: str, *, fresh: bool) -> PersonInfo | None:
        """The person as last learned (user_change events keep it current); asked of Slack
        when unknown, or at sign-in when not learned within minutes."""
        since = self.runtime.clock() - people.FRESH if fresh else _EPOCH
        known = people.known(self.runtime.db, workspace, [user_id], since)
        if user_id in known:
            return known[user_id]
        try:
            client = self.runtime.clients.client_for(workspace.team_id, workspace.enterprise_id)
            found = people.lookup_all(
                client, self.runtime.db, workspace, [user_id], self.runtime.clock()
            )
            return found[user_id]
        except (SlackApiError, SlackClientError, OSError, LookupError) as error:
            log.warning("could not look up %s of %s: %s", user_id, workspace.team_id, error)
            return None

    def _signed(self, value: str) -> str:
        mac = hmac.new(self.cookie_key, value.encode(), hashlib.sha256).digest()
        return f"{value}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def _unsigned(self, cookie: str) -> str | None:
        value, _, mac = cookie.rpartition(".")
        if not value or not mac:
            return None
        return value if hmac.compare_digest(self._signed(value), cookie) else None

    @staticmethod
    def _cookie(environ: dict[str, Any], name: str, value: str, max_age: int) -> tuple[str, str]:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
        if host_of(environ).rsplit(":", 1)[0] not in _LOCAL_HOSTS:
            parts.append("Secure")
        return ("Set-Cookie", "; ".join(parts))


def make_signin(runtime: Runtime) -> SignIn | None:
    """Sign-in when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set; None otherwise."""
    return SignIn(runtime) if runtime.settings.signin_enabled else None


def cookies_of(environ: dict[str, Any]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def host_of(environ: dict[str, Any]) -> str:
    """The request's Host (what the person typed), or the server's own name."""
    host = str(environ.get("HTTP_HOST") or "")
    if not _HOST.fullmatch(host):
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return host


def redirect_uri(environ: dict[str, Any]) -> str:
    """This app's sign-in redirect URL, from the request's Host and scheme (a proxy's
    X-Forwarded-Proto first). Slack accepts only a URL listed in the app's manifest, so a
    forged Host gets no code."""
    forwarded = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else environ.get("wsgi.url_scheme", "http")
    return f"{scheme}://{host_of(environ)}{REDIRECT_PATH}"


def local_path(value: str) -> str:
    """`value` if it is a path of this app, else the insights page: never another site."""
    if (
        value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and not any(ord(c) < 0x21 for c in value)
        and len(value) <= 500
    ):
        return value
    return DEFAULT_RETURN


def redirect(location: str, headers: list[tuple[str, str]]) -> Page:
    return "302 Found", [("Location", location), *SECURITY_HEADERS, *headers], b""


def page(status: str, title: str, body_html: str) -> Page:
    """A small HTML page (`body_html` already escaped)."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · Advocate</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body_html}</body></html>"
    ).encode()
    return status, [("Content-Type", "text/html; charset=utf-8"), *SECURITY_HEADERS], document


def refusal(status: str) -> Page:
    """The page of a refused sign-in or session: nothing of the data, a way to try again."""
    return page(
        status,
        "You are not signed in",
        "<p>This sign-in did not work, or has expired.</p>"
        f'<p><a href="{SIGNIN_PATH}">Sign in with Slack</a></p>',
    )
