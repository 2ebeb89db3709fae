"""Web API clients, all pointed at SLACK_API_URL."""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.http_retry import RateLimitErrorRetryHandler

from bot.config import Settings


def make_client(token: str | None, settings: Settings) -> WebClient:
    """A client that waits out 429s (honouring Retry-After) and retries them.

    Server errors are not retried here: a 5xx after a post may mean it was posted, and only
    the outbox, which can look for its own earlier post, may try again.
    """
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )


class ClientProvider(Protocol):
    def client_for(self, team_id: str, enterprise_id: str | None = None) -> WebClient: ...


class SingleWorkspaceClients:
    """Single-workspace mode: one bot token serves the one installed workspace."""

    def __init__(self, settings: Settings) -> None:
        self._client = make_client(settings.slack_bot_token, settings)

    def client_for(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        return self._client


def token_workspace(client: WebClient) -> tuple[str, str | None, str]:
    """(team_id, enterprise_id, name) of the workspace a bot token belongs to (auth.test)."""
    response = client.auth_test()
    return (
        str(response["team_id"]),
        response.get("enterprise_id") or None,
        str(response.get("team") or ""),
    )
