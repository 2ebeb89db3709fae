"""Sign in with Slack for the insights page, through the real `advocate run` and the fake
Slack's authorize page, token endpoint and keys: who gets in, who sees what, and every way
in that must be refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import SigninState, WebSession
from tests.conftest import ANA, BEN, GIVER, TEAM
from tests.e2e.processes import Running, bot_env, running, wait_until
from tests.e2e.test_cli import advocate
from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.ports import free_port

CLIENT_ID = "111.222"
CLIENT_SECRET = "client-secret"
ADMIN = "U900"
SECURITY = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str
    url: str

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def cookies_set(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class Browser:
    """A browser that keeps cookies per host and follows redirects when asked to."""

    cookies: dict[str, dict[str, str]] = field(default_factory=dict)

    def request(self, method: str, url: str) -> Answer:
        parts = urlsplit(url)
        assert parts.hostname and parts.port
        jar = self.cookies.setdefault(parts.netloc, {})
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        connection = HTTPConnection(parts.hostname, parts.port, timeout=30)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.getheaders(), response.read().decode(), url)
        finally:
            connection.close()
        for cookie in answer.cookies_set():
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in cookie or not value:
                jar.pop(name, None)
            else:
                jar[name] = value
        return answer

    def follow(self, url: str, *, stop_at: str | None = None, method: str = "GET") -> Answer:
        """Request `url` and follow redirects; stop before requesting a URL whose path is
        `stop_at` (its answer's `url` is then that URL, not requested)."""
        answer = self.request(method, url)
        for _ in range(10):
            if answer.status not in (301, 302, 303):
                return answer
            target = urljoin(answer.url, answer.header("Location"))
            if stop_at is not None and urlsplit(target).path == stop_at:
                return Answer(0, [], "", target)
            answer = self.request("GET", target)
        raise AssertionError("too many redirects")


@pytest.fixture
def people(slack: FakeSlack) -> FakeSlack:
    slack.add_user(ADMIN, name="maya", real_name="Maya", is_admin=True)
    slack.openid_client(CLIENT_ID, CLIENT_SECRET)
    return slack


@pytest.fixture
def bot(people: FakeSlack, db: Database, tmp_path: Path) -> Iterator[Running]:
    env = bot_env(
        people,
        db,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        ADVOCATE_ADMINS=BEN,
    )
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as started:
        yield started


def base(bot: Running) -> str:
    assert bot.client is not None
    return bot.client.base_url


def sign_in(bot: Running, slack: FakeSlack, user_id: str, team_id: str = TEAM) -> Browser:
    browser = Browser()
    slack.signin_as(user_id, team_id)
    answer = browser.follow(base(bot) + "/insights")
    assert answer.status == 200, answer.body
    return browser


def shows_nothing(answer: Answer) -> None:
    assert answer.status in (400, 401, 403), (answer.status, answer.body)
    assert "Insights: " not in answer.body and "Your insights" not in answer.body
    assert 'href="/slack/signin"' in answer.body
    assert not any(
        c.startswith("advocate_session=") and "Max-Age=0" not in c for c in answer.cookies_set()
    )
    for name, value in SECURITY.items():
        assert answer.header(name) == value


def signed_out(bot: Running, browser: Browser) -> bool:
    answer = browser.request("GET", base(bot) + "/insights")
    return answer.status == 302 and answer.header("Location").startswith("/slack/signin?")


def sessions(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_an_admin_signs_in_and_sees_the_workspace_page(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    browser = Browser()
    people.signin_as(ADMIN)
    first = browser.request("GET", base(bot) + "/insights?period=quarter")
    assert first.status == 302
    assert first.header("Location") == "/slack/signin?next=%2Finsights%3Fperiod%3Dquarter"

    to_slack = browser.request("GET", urljoin(first.url, first.header("Location")))
    authorize = urlsplit(to_slack.header("Location"))
    asked = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == people.origin
    assert authorize.path == "/openid/connect/authorize"
    assert asked["client_id"] == [CLIENT_ID]
    assert set(asked["scope"][0].split(",")) == {"openid", "email", "profile"}
    assert asked["response_type"] == ["code"]
    assert asked["redirect_uri"] == [base(bot) + "/slack/signin_redirect"]
    assert asked["state"] and asked["nonce"]

    answer = browser.follow(to_slack.header("Location"))

    assert answer.status == 200, answer.body
    assert answer.url == base(bot) + "/insights?period=quarter"
    assert "Insights: Example" in answer.body
    for name, value in SECURITY.items():
        assert answer.header(name) == value
    [cookie] = [c for c in browser.cookies[urlsplit(base(bot)).netloc] if c == "advocate_session"]
    assert cookie
    # The sign-in's own answer set the cookie: HttpOnly, Lax, 12 hours, not Secure on
    # 127.0.0.1 (plain HTTP on one's own machine).
    [call] = people.calls_to("openid.connect.token")
    assert call.params["client_id"] == CLIENT_ID
    assert sessions(db) == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SigninState)) == 0


def test_the_session_cookie_is_httponly_lax_and_expires(bot: Running, people: FakeSlack) -> None:
    browser = Browser()
    people.signin_as(ADMIN)
    to_slack = browser.follow(base(bot) + "/slack/signin", stop_at="/slack/signin_redirect")
    back = browser.request("GET", to_slack.url)
    assert back.status == 302 and back.header("Location") == "/insights"
    [session_cookie] = [c for c in back.cookies_set() if c.startswith("advocate_session=")]
    flags = {part.strip() for part in session_cookie.split(";")[1:]}
    assert flags == {"Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"}


def test_admins_by_setting_see_the_workspace_page_members_their_own(
    bot: Running, people: FakeSlack
) -> None:
    by_setting = sign_in(bot, people, BEN).follow(base(bot) + "/insights")
    assert "Insights: Example" in by_setting.body

    member = sign_in(bot, people, ANA).follow(base(bot) + "/insights")
    assert "Your insights, ana" in member.body
    assert "Insights: " not in member.body
    csv = sign_in(bot, people, ANA).follow(base(bot) + "/insights.csv?table=weekly")
    assert csv.status == 200 and csv.header("Content-Type").startswith("text/csv")
    assert csv.body.startswith("Week of,Thanks you gave,Thanks you received")


def test_a_forged_or_replayed_state_is_refused(bot: Running, people: FakeSlack) -> None:
    people.signin_as(ADMIN)
    forged = Browser().request("GET", base(bot) + "/slack/signin_redirect?code=abc&state=made-up")
    shows_nothing(forged)

    browser = Browser()
    to_app = browser.follow(base(bot) + "/slack/signin", stop_at="/slack/signin_redirect")
    state_cookie = dict(browser.cookies[urlsplit(base(bot)).netloc])
    assert browser.request("GET", to_app.url).status == 302

    # The same answer from Slack again, with the browser as it was: the state is used.
    replayer = Browser(cookies={urlsplit(base(bot)).netloc: state_cookie})
    shows_nothing(replayer.request("GET", to_app.url))
    # A state started in another browser: refused, and it stays unused for its own.
    other = Browser()
    started = other.follow(base(bot) + "/slack/signin", stop_at="/slack/signin_redirect")
    shows_nothing(Browser().request("GET", started.url))
    assert other.request("GET", started.url).status == 302


@pytest.mark.parametrize(
    "lie",
    [
        {"nonce": "another-nonce"},
        {"other_key": True},
        {"aud": "another-client"},
        {"iss": "https://elsewhere.example"},
        {"exp": int(time.time()) - 60, "iat": int(time.time()) - 3660},
        {"exp": None},
    ],
    ids=["nonce", "key", "aud", "iss", "expired", "no-exp"],
)
def test_an_id_token_that_does_not_hold_is_refused(
    bot: Running, people: FakeSlack, db: Database, lie: dict[str, object]
) -> None:
    people.signin_as(ADMIN)
    people.next_id_token(**lie)  # type: ignore[arg-type]
    browser = Browser()

    answer = browser.follow(base(bot) + "/insights")

    shows_nothing(answer)
    assert sessions(db) == 0
    assert signed_out(bot, browser)


def test_slack_refusing_the_code_or_the_person_cancelling_is_refused(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    people.signin_as(ADMIN)
    people.fail_next("openid.connect.token", error="invalid_code")
    shows_nothing(Browser().follow(base(bot) + "/insights"))
    people.signin_as(None)
    shows_nothing(Browser().follow(base(bot) + "/insights"))
    assert sessions(db) == 0


def test_a_tampered_cookie_is_refused(bot: Running, people: FakeSlack) -> None:
    browser = sign_in(bot, people, ADMIN)
    jar = browser.cookies[urlsplit(base(bot)).netloc]
    value = jar["advocate_session"]
    session_id, _, mac = value.rpartition(".")
    for tampered in (
        f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{mac}",
        f"{session_id}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        session_id,
        "",
    ):
        jar["advocate_session"] = tampered
        answer = browser.request("GET", base(bot) + "/insights")
        assert answer.status == 302 and "Insights" not in answer.body
        assert any(c.startswith("advocate_session=;") for c in answer.cookies_set())
        jar["advocate_session"] = tampered
        csv = browser.request("GET", base(bot) + "/insights.csv")
        assert csv.status == 302 and csv.body == ""
    jar["advocate_session"] = value
    assert browser.request("GET", base(bot) + "/insights").status == 200


def test_signing_out_ends_the_session(bot: Running, people: FakeSlack, db: Database) -> None:
    browser = sign_in(bot, people, ANA)
    kept = dict(browser.cookies[urlsplit(base(bot)).netloc])

    answer = browser.request("POST", base(bot) + "/slack/signout")

    assert answer.status == 200 and "signed out" in answer.body
    assert signed_out(bot, browser)
    assert sessions(db) == 0
    # The cookie as it was, kept by someone: its session is gone.
    assert signed_out(bot, Browser(cookies={urlsplit(base(bot)).netloc: kept}))


def test_a_person_of_another_workspace_gets_nothing(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    people.add_user("U777", name="otto", is_admin=True, team_id="T777")
    people.signin_as("U777", "T777")

    shows_nothing(Browser().follow(base(bot) + "/insights"))
    assert sessions(db) == 0


def test_a_person_deactivated_after_signing_in_loses_the_page(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    browser = sign_in(bot, people, ANA)
    other = sign_in(bot, people, ADMIN)
    people.add_user(ANA, name="ana", deleted=True)
    assert bot.client is not None
    bot.client.event(
        {
            "type": "user_change",
            "user": {"id": ANA, "team_id": TEAM, "name": "ana", "deleted": True, "profile": {}},
            "event_ts": "1.0",
        }
    )

    assert wait_until(lambda: signed_out(bot, browser))
    assert other.request("GET", base(bot) + "/insights").status == 200
    assert sessions(db) == 1


def test_uninstalling_the_app_ends_every_session(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    admin = sign_in(bot, people, ADMIN)
    member = sign_in(bot, people, GIVER)
    assert bot.client is not None
    bot.client.event({"type": "app_uninstalled", "event_ts": "1.0"})

    assert wait_until(lambda: sessions(db) == 0)
    assert signed_out(bot, admin) and signed_out(bot, member)
    people.signin_as(ADMIN)
    shows_nothing(Browser().follow(base(bot) + "/insights"))


def test_socket_mode_serves_sign_in_and_insights_on_port(
    people: FakeSlack, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    with FakeSocketMode() as socket_mode:
        people.use_socket_mode(socket_mode)
        env = bot_env(
            people,
            db,
            SLACK_APP_TOKEN="xapp-1-test",
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            PORT=str(port),
        )
        with running(env, tmp_path, "run", "--socket", "--no-scheduler"):
            socket_mode.wait_connected(1, timeout=30)
            people.signin_as(ADMIN)
            browser = Browser()
            answer = browser.follow(f"http://127.0.0.1:{port}/insights")
            assert answer.status == 200, answer.body
            assert "Insights: Example" in answer.body
            # Slack's requests come over the socket: the Request URL is not served here.
            events = browser.request("POST", f"http://127.0.0.1:{port}/slack/events")
            assert events.status == 404


def test_forgetting_a_person_ends_their_sessions(
    bot: Running, people: FakeSlack, db: Database, tmp_path: Path
) -> None:
    forgotten = sign_in(bot, people, ANA)
    admin = sign_in(bot, people, ADMIN)
    env = bot_env(people, db)

    result = advocate("forget", "--user", ANA, "--team", TEAM, env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert signed_out(bot, forgotten)
    assert admin.request("GET", base(bot) + "/insights").status == 200


def test_a_state_used_twice_at_once_signs_in_once(
    bot: Running, people: FakeSlack, db: Database
) -> None:
    people.signin_as(ADMIN)
    browser = Browser()
    to_app = browser.follow(base(bot) + "/slack/signin", stop_at="/slack/signin_redirect")
    jar = dict(browser.cookies[urlsplit(base(bot)).netloc])
    copies = [Browser(cookies={urlsplit(base(bot)).netloc: dict(jar)}) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda b: b.request("GET", to_app.url), copies))

    assert sorted(a.status for a in answers) == [302, 400, 400, 400]
    assert sessions(db) == 1


OAUTH_TEAMS = {"T701": ("Alpha", "xoxb-alpha"), "T702": ("Beta", "xoxb-beta")}


@pytest.fixture
def two_workspaces(people: FakeSlack, db: Database, tmp_path: Path) -> Iterator[Running]:
    """OAuth mode, installed in two workspaces, each with an admin and a member."""
    from slack_sdk.oauth.installation_store import Installation

    from bot.config import Settings
    from bot.domain import Workspace
    from bot.services import workspaces
    from bot.slack.oauth import installation_store

    settings = Settings(
        slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET, database_url=db.url
    )
    store = installation_store(settings, db)
    for team, (name, token) in OAUTH_TEAMS.items():
        store.save(
            Installation(
                app_id="A111",
                enterprise_id=None,
                team_id=team,
                team_name=name,
                user_id=f"U{team}A",
                bot_token=token,
                bot_id="B1",
                bot_user_id="UBOT",
                installed_at=time.time(),
            )
        )
        people.add_token(token, team, name)
        workspaces.ensure(db, Workspace(team), name, datetime.now(UTC))
        people.add_user(f"U{team}A", name=f"admin-{name}", is_admin=True, team_id=team)
        people.add_user(f"U{team}M", name=f"member-{name}", team_id=team)
    env = bot_env(people, db, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    env.pop("SLACK_BOT_TOKEN")
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as started:
        yield started


def test_each_workspace_s_people_see_only_their_own_workspace(
    two_workspaces: Running, people: FakeSlack, db: Database
) -> None:
    bot = two_workspaces
    alpha = sign_in(bot, people, "UT701A", "T701").follow(base(bot) + "/insights")
    beta = sign_in(bot, people, "UT702A", "T702").follow(base(bot) + "/insights")
    member = sign_in(bot, people, "UT702M", "T702").follow(base(bot) + "/insights")

    assert "Insights: Alpha" in alpha.body and "Beta" not in alpha.body
    assert "Insights: Beta" in beta.body and "Alpha" not in beta.body
    assert "Your insights, member-Beta" in member.body
    # Slack looked each person up with their own workspace's token, never another's.
    tokens = {c.params.get("user"): c.token for c in people.calls_to("users.info")}
    assert tokens == {"UT701A": "xoxb-alpha", "UT702A": "xoxb-beta", "UT702M": "xoxb-beta"}
    # A workspace the app is not installed in gets nothing.
    people.add_user("UT703A", name="admin-gamma", is_admin=True, team_id="T703")
    people.signin_as("UT703A", "T703")
    shows_nothing(Browser().follow(base(bot) + "/insights"))
    with db.transaction() as session:
        teams = set(session.scalars(select(WebSession.team_id)))
    assert teams == {"T701", "T702"}


def test_a_session_outlives_a_restart_and_a_new_secret_ends_it(
    people: FakeSlack, db: Database, tmp_path: Path
) -> None:
    env = bot_env(people, db, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as first:
        browser = sign_in(first, people, ADMIN)
        jar = dict(browser.cookies[urlsplit(base(first)).netloc])
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as second:
        again = Browser(cookies={urlsplit(base(second)).netloc: dict(jar)})
        assert again.request("GET", base(second) + "/insights").status == 200
    people.openid_client(CLIENT_ID, "rotated-secret")
    rotated = {**env, "SLACK_CLIENT_SECRET": "rotated-secret"}
    with running(rotated, tmp_path, "run", "--http", "--no-scheduler") as third:
        stale = Browser(cookies={urlsplit(base(third)).netloc: dict(jar)})
        assert signed_out(third, stale)
