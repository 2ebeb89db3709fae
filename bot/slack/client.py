"""Web API clients, all pointed at SLACK_API_URL, each for the workspace its token serves.

`client_for(team_id, enterprise_id)` is the one place where a token is chosen for a
workspace's message, lookup or view, in every mode: it refuses (ForeignWorkspace, logged as
an error) a workspace that the token it would use does not belong to.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)

from bot import metrics
from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.domain import TokenOwner, Workspace
from bot.store.db import Database

log = logging.getLogger(__name__)


def make_client(token: str | None, settings: Settings) -> WebClient:
    """A client that waits out 429s (honouring Retry-After) and retries them, and counts
    every call it makes (`CallMeter`).

    Server errors are not retried here: a 5xx after a post may mean it was posted, and only
    the outbox, which can look for its own earlier post, may try again.
    """
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[CALL_METER, ShortRateLimitWaits(max_retry_count=2)],
    )


# The longest Retry-After a call waits out in place. A longer one is answered as the 429 it
# is: the outbox tries again after it, and a worker does not hold a request (or a sender
# its claim) asleep meanwhile.
MAX_RATE_LIMIT_WAIT = 5


def retry_after(headers: Any) -> int | None:
    """The Retry-After of a response, in seconds, if it says one."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return int(raw)
            except (TypeError, ValueError):
                return None
    return None


class ShortRateLimitWaits(RateLimitErrorRetryHandler):
    """Waits out a 429 only when Slack asks for a short wait (MAX_RATE_LIMIT_WAIT)."""

    def _can_retry(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after(response.headers)
        return wait is None or wait <= MAX_RATE_LIMIT_WAIT


class CallMeter(RetryHandler):
    """Counts each HTTP attempt at the Web API by method and result (bot/metrics.py), and
    logs it at DEBUG, on the calling thread (so within the request it is made for). It never
    asks for a retry.

    Why a retry handler: slack-sdk asks a client's retry handlers about every attempt, a
    success (200) included, before it looks at the answer, and Bolt gives each request a
    WebClient of its own that copies only the app's client's settings and retry handlers.
    A WebClient subclass would be dropped there (every listener's calls), and its api_call
    would not see the further pages of a paginated call; this handler sees them all.
    """

    def __init__(self) -> None:
        super().__init__(max_retry_count=0)

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = _method_of(request.url)
        result = _result_of(response, error)
        metrics.slack_call(method, result)
        log.debug("Web API %s: %s", method, result)
        return False

    def _can_retry(self, **_: object) -> bool:
        return False


CALL_METER = CallMeter()
_METHOD = re.compile(r"[a-z][A-Za-z0-9.]{0,63}")


def _method_of(url: str) -> str:
    """The Web API method a URL names (`.../api/chat.postMessage`); `other` for anything
    that is not a method's name, so that a label never carries what a URL might."""
    method = urlsplit(url).path.rsplit("/", 1)[-1]
    return method if _METHOD.fullmatch(method) else "other"


def _result_of(response: HttpResponse | None, error: Exception | None) -> str:
    if response is None:
        timed_out = isinstance(error, TimeoutError) or isinstance(
            getattr(error, "reason", None), TimeoutError
        )
        return "timeout" if timed_out else "connection_error"
    if response.status_code == 429:
        return "ratelimited"
    if response.status_code >= 500:
        return "server_error"
    body = response.body if isinstance(response.body, dict) else {}
    if response.status_code == 200 and body.get("ok") is True:
        return "ok"
    return "ratelimited" if body.get("error") == "ratelimited" else "slack_error"


class ForeignWorkspace(LookupError):
    """A workspace's call refused: the token that would make it belongs to another one."""


class ClientProvider(Protocol):
    def client_for(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The client for this workspace's calls; raises ForeignWorkspace (or LookupError:
        not installed) rather than hand over another workspace's token."""
        ...

    def serves(self, workspace: Workspace) -> bool:
        """Whether this workspace's requests and scheduled work are served here."""
        ...

    def token_owner(self) -> TokenOwner | None:
        """Token mode: the one workspace the token serves. OAuth mode: None (each workspace
        has its own installation)."""
        ...


def refuse(workspace: Workspace, owner: TokenOwner | str) -> ForeignWorkspace:
    """Log the refusal as the error it is, and the exception to raise."""
    log.error(
        "refused to call Slack for workspace %s with the token of %s", workspace.team_id, owner
    )
    return ForeignWorkspace(f"workspace {workspace.team_id} is not served by this token")


class SingleWorkspaceClients:
    """Token mode: one bot token, which serves the workspace it belongs to and no other.

    Which one is learned from auth.test once per token and remembered in the database, so
    that commands that only read need not ask Slack, and a switch of token is noticed.
    """

    def __init__(
        self, settings: Settings, db: Database | None = None, clock: Clock = system_clock
    ) -> None:
        self._client = make_client(settings.slack_bot_token, settings)
        self._token_sha256 = hashlib.sha256((settings.slack_bot_token or "").encode()).hexdigest()
        self._db = db
        self._clock = clock
        self._owner: TokenOwner | None = None
        self._lock = threading.Lock()

    def owner(self, *, ask_slack: bool = False) -> TokenOwner:
        """The token's workspace: remembered, or from auth.test (always, with `ask_slack`,
        which also proves the token still works)."""
        with self._lock:
            if self._owner is not None and not ask_slack:
                return self._owner
            from bot.services import workspaces

            remembered = None
            if self._db is not None and not ask_slack:
                remembered = workspaces.token_owner(self._db, self._token_sha256)
            if remembered is None:
                remembered = token_owner(self._client)
                if self._db is not None:
                    workspaces.remember_token(
                        self._db, self._token_sha256, remembered, self._clock()
                    )
            self._owner = remembered
            return remembered

    @property
    def token_sha256(self) -> str:
        """The token's SHA-256: how the database knows it, never the token itself."""
        return self._token_sha256

    def token_owner(self) -> TokenOwner:
        return self.owner()

    def client_for_org(self) -> WebClient:
        """The client of the token itself, for what concerns no one workspace."""
        return self._client

    def serves(self, workspace: Workspace) -> bool:
        return self.owner().serves(workspace)

    def client_for(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        owner = self.owner()
        workspace = Workspace(team_id, enterprise_id)
        if not owner.serves(workspace):
            raise refuse(workspace, owner)
        return self._client


def token_owner(client: WebClient) -> TokenOwner:
    """The workspace a bot token belongs to, from auth.test."""
    response = client.auth_test()
    return TokenOwner(
        team_id=str(response.get("team_id") or ""),
        enterprise_id=response.get("enterprise_id") or None,
        name=str(response.get("team") or ""),
        org_wide=bool(response.get("is_enterprise_install")),
    )


def not_answering(error: BaseException) -> bool:
    """Whether `error` says Slack could not be reached or failed on its side (a timeout, a
    refused connection, a 5xx), as opposed to an answer: worth trying again later."""
    if isinstance(error, SlackApiError):
        return int(getattr(error.response, "status_code", 200) or 200) >= 500
    return isinstance(error, SlackClientError | OSError | TimeoutError)
