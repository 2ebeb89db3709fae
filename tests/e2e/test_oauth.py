"""OAuth mode: install, per-workspace tokens (encrypted at rest), rotation, org-wide installs."""

from __future__ import annotations

import logging
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError

import pytest
from slack_sdk.oauth.installation_store import Bot, Installation
from sqlalchemy import select

from bot.config import Settings
from bot.domain import Workspace
from bot.runtime import Runtime
from bot.services import workspaces
from bot.slack.oauth import OAuthClients
from bot.store.db import Database
from bot.store.models import slack_bots
from tests.conftest import GIVER, AppServer, MovableClock
from tests.support.fake_slack import FakeSlack

INSTALLED = "xoxb-installed-token-1"


@pytest.fixture
def oauth_server(settings: Settings, db: Database, clock: MovableClock) -> Iterator[AppServer]:
    oauth = replace(
        settings,
        slack_bot_token=None,
        slack_client_id="111.222",
        slack_client_secret="client-secret",
        encryption_key="correct horse",
    )
    server = AppServer(Runtime.create(oauth, db=db, clock=clock))
    yield server
    server.close()


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers.items()), error.read().decode()


def oauth_access(
    team: str = "T777",
    enterprise: str | None = None,
    org_wide: bool = False,
    token: str = INSTALLED,
) -> dict:
    return {
        "ok": True,
        "app_id": "A111",
        "authed_user": {"id": GIVER},
        "scope": "commands,chat:write",
        "token_type": "bot",
        "access_token": token,
        "bot_user_id": "UBOT",
        "team": None if org_wide else {"id": team, "name": "Team " + team},
        "enterprise": {"id": enterprise, "name": "Org"} if enterprise else None,
        "is_enterprise_install": org_wide,
    }


def install(server: AppServer, slack: FakeSlack, **access: object) -> None:
    slack.set_response("oauth.v2.access", oauth_access(**access))  # type: ignore[arg-type]
    status, headers, body = get(server.url + "/slack/install")
    assert status == 200, body
    state = re.search(r"state=([\w-]+)", body)
    assert state, body
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _, body = get(
        f"{server.url}/slack/oauth_redirect?code=abc&state={state.group(1)}", cookie
    )
    assert status == 200, body


def raw_tokens(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.execute(select(slack_bots.c.bot_token)).scalars())


def test_install_stores_an_encrypted_token_and_serves_the_workspace(
    oauth_server: AppServer, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    install(oauth_server, slack)

    assert [w.team_id for w in workspaces.active(oauth_server.runtime.db)] == ["T777"]
    [stored] = raw_tokens(oauth_server.runtime.db)
    assert stored.startswith("enc:") and INSTALLED not in stored

    oauth_server.client.event(
        {
            "type": "app_home_opened",
            "user": GIVER,
            "tab": "home",
            "channel": "D1",
            "event_ts": "1.0",
        },
        team_id="T777",
    )
    publish = slack.wait_for("views.publish")[-1]
    assert publish.token == INSTALLED
    assert INSTALLED not in caplog.text


def test_unknown_workspace_is_not_served(oauth_server: AppServer, slack: FakeSlack) -> None:
    status, _ = oauth_server.client.command(
        command="/appreciate", text="help", team_id="T999", response_url=slack.response_url()
    )
    assert status == 200
    time.sleep(0.3)
    # Bolt answers that the app is not installed there; nothing else happens.
    assert [p["text"] for p in slack.response_url_posts() if "reinstall" not in p["text"]] == []
    assert slack.calls_to("chat.postMessage") == []


def test_scheduled_work_rotates_an_expiring_token_first(
    oauth_server: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    runtime = oauth_server.runtime
    clients = runtime.clients
    assert isinstance(clients, OAuthClients)
    expiring = int((datetime.now(UTC) + timedelta(minutes=30)).timestamp())
    clients.store.save_bot(
        Bot(
            app_id="A111",
            team_id="T777",
            bot_token="xoxe.xoxb-old",
            bot_id="B1",
            bot_user_id="UBOT",
            bot_refresh_token="xoxe-1-refresh",
            bot_token_expires_at=expiring,
            installed_at=time.time(),
        )
    )
    workspaces.ensure(
        runtime.db,
        Workspace("T777"),
        "x",
        clock(),
    )
    slack.set_response(
        "oauth.v2.access",
        {
            "ok": True,
            "access_token": "xoxe.xoxb-new",
            "refresh_token": "xoxe-1-refresh-2",
            "token_type": "bot",
            "expires_in": 43200,
            "team": {"id": "T777"},
        },
    )

    client = clients.client_for("T777")

    assert client.token == "xoxe.xoxb-new"
    found = clients.find_bot("T777", None)
    assert found is not None and found.bot_token == "xoxe.xoxb-new"
    assert all(t.startswith("enc:") for t in raw_tokens(runtime.db))


def test_org_wide_install_serves_each_workspace_of_the_org(
    oauth_server: AppServer, slack: FakeSlack
) -> None:
    clients = oauth_server.runtime.clients
    assert isinstance(clients, OAuthClients)
    clients.store.save(
        Installation(
            app_id="A111",
            enterprise_id="E1",
            team_id=None,
            user_id=GIVER,
            bot_token="xoxb-org",
            bot_id="B1",
            bot_user_id="UBOT",
            is_enterprise_install=True,
            installed_at=time.time(),
        )
    )
    oauth_server.client.event(
        {
            "type": "app_home_opened",
            "user": GIVER,
            "tab": "home",
            "channel": "D1",
            "event_ts": "1.0",
        },
        team_id="T888",
        enterprise_id="E1",
        org_wide=True,
    )
    assert slack.wait_for("views.publish")[-1].token == "xoxb-org"
    teams = [w.team_id for w in workspaces.active(oauth_server.runtime.db)]
    assert "T888" in teams
    assert clients.client_for("T888", "E1").token == "xoxb-org"


def test_uninstall_deletes_the_tokens_at_once(oauth_server: AppServer, slack: FakeSlack) -> None:
    install(oauth_server, slack)
    oauth_server.client.event({"type": "app_uninstalled", "event_ts": "1.1"}, team_id="T777")
    for _ in range(100):
        if not raw_tokens(oauth_server.runtime.db) and not workspaces.active(
            oauth_server.runtime.db
        ):
            break
        time.sleep(0.02)
    assert raw_tokens(oauth_server.runtime.db) == []
    assert workspaces.active(oauth_server.runtime.db) == []
