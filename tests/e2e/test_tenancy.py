"""A token serves its own workspace only: a database that holds another workspace (Beta, tried
first) never leaks it into this one (Acme), through the real `advocate` processes."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation, asks, workspaces
from bot.services.outbox import direct_message
from bot.services.people import mark_used
from bot.slack import people
from bot.store.db import Database
from bot.store.models import InstalledWorkspace, OutboxMessage
from tests.conftest import ANA, BEN, GIVER, SIGNING_SECRET, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving
from tests.support.slack_requests import SlackClientForTests

ACME = Workspace("T111")
BETA = Workspace("TBETA")
BIANCA, BORIS = "UBIANCA1", "UBORIS22"
# Anything of Beta's that could show up in a call to Slack.
BETA_MARKS = (BIANCA, BORIS, "Bianca", "Boris", "beta-secret")
# The digest of the week of the appreciation (Friday 16:00 UTC), then check-ins on Monday
# (Paris, then New York), the ask's due-day and overdue reminders, and the next digest.
WEEK_OF_TICKS = (
    "2026-11-27T16:01:00Z",
    "2026-11-30T08:31:00Z",
    "2026-11-30T14:31:00Z",
    "2026-12-01T08:01:00Z",
    "2026-12-02T08:01:00Z",
    "2026-12-04T16:01:00Z",
)


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def thank(db: Database, workspace: Workspace, giver: str, recipient: str, why: str) -> None:
    draft = appreciation.Draft(giver, [recipient], why, source_key=f"{workspace.team_id}{why}")
    appreciation.record(
        db,
        workspace,
        draft,
        PersonInfo(giver),
        datetime(2026, 11, 24, 10, tzinfo=UTC),
        daily_limit=10,
    )


@pytest.fixture
def story(db: Database, slack: FakeSlack, tmp_path: Path, clock: MovableClock) -> dict[str, str]:
    """Beta is tried first with its own token; then the installation is pointed at Acme."""
    slack.add_token("xoxb-beta", BETA.team_id, "Beta")
    slack.add_token("xoxb-acme", ACME.team_id, "Acme")
    slack.add_user(BIANCA, name="bianca", real_name="Bianca", tz="Europe/Paris")
    slack.add_user(BORIS, name="boris", real_name="Boris", tz="Europe/Paris")
    beta_env = clean_env(
        SLACK_BOT_TOKEN="xoxb-beta",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
    )
    registered = run(beta_env, tmp_path, "tick", "--now", "2026-11-23T08:00:00Z")
    assert registered.returncode == 0, registered.stderr
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    for ws, who in ((BETA, [BIANCA, BORIS]), (ACME, [GIVER, ANA, BEN])):
        people.remember(db, ws, [PersonInfo(u, u.lower(), "Europe/Paris") for u in who], now)
        mark_used(db, ws, who, now)
    thank(db, BETA, BIANCA, BORIS, "beta-secret launch plan")
    thank(db, ACME, GIVER, ANA, "acme release notes")
    asks.start(
        db,
        BETA,
        asker_id=BIANCA,
        helper_id=BORIS,
        request="beta-secret budget",
        channel_id="C111",
        due_on=date(2026, 12, 1),
        timezone="Europe/Paris",
        source_key="beta-ask",
        now=now,
    )
    with db.transaction() as session:
        session.add(
            direct_message(
                BETA,
                key="beta-left-pending",
                user_id=BORIS,
                message={"text": "beta-secret pending DM"},
                now=now,
            )
        )
    slack.reset_calls()
    return clean_env(
        SLACK_BOT_TOKEN="xoxb-acme",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
    )


def assert_nothing_of_beta_reached_slack(slack: FakeSlack) -> None:
    for call in slack.calls:
        assert call.token != "xoxb-beta", call
        sent = json.dumps(call.params)
        assert not [mark for mark in BETA_MARKS if mark in sent], (call.method, sent)


def beta_pending(db: Database) -> str:
    with db.transaction() as session:
        row = session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "beta-left-pending")
        )
    assert row is not None
    return row.status


def test_cli_and_a_week_of_ticks_serve_the_token_workspace_only(
    story: dict[str, str], slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    preview = run(story, tmp_path, "digest", "preview", "--week", "2026-W48")
    assert preview.returncode == 0, preview.stderr
    assert "acme release notes" in preview.stdout
    assert not [mark for mark in BETA_MARKS if mark in preview.stdout], preview.stdout
    # The switch of token is said once in the log, naming the workspace left behind.
    assert "TBETA" in preview.stderr and "advocate check" in preview.stderr

    posted = run(story, tmp_path, "digest", "post", "--week", "2026-W48")
    assert posted.returncode == 0, posted.stderr
    assert "TBETA" not in posted.stderr
    assert [c.token for c in slack.calls_to("chat.postMessage")] == ["xoxb-acme"]

    # A week of ticks: check-ins Monday, the ask's reminder Tuesday, the digest Friday.
    for instant in WEEK_OF_TICKS:
        ticked = run(story, tmp_path, "tick", "--now", instant)
        assert ticked.returncode == 0, ticked.stderr
    dms = {c.params.get("channel") for c in slack.calls_to("chat.postMessage")}
    assert {GIVER, ANA, BEN} <= dms  # Acme's check-ins went out
    assert beta_pending(db) == "pending"

    exported = run(story, tmp_path, "export")
    assert exported.returncode == 0, exported.stderr
    assert "acme release notes" in exported.stdout and "beta-secret" not in exported.stdout

    refused = run(story, tmp_path, "digest", "preview", "--team", BETA.team_id)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and "TBETA" in refused.stderr
    refused_post = run(story, tmp_path, "digest", "post", "--team", BETA.team_id)
    assert refused_post.returncode == 2

    # An admin cleaning up may export and forget Beta, only by naming it.
    cleanup = run(story, tmp_path, "export", "--team", BETA.team_id)
    assert cleanup.returncode == 0 and "beta-secret" in cleanup.stdout

    checked = run(story, tmp_path, "check")
    assert "TBETA" in checked.stdout and "forget --team TBETA --all" in checked.stdout
    assert_nothing_of_beta_reached_slack(slack)

    forgotten = run(story, tmp_path, "forget", "--team", BETA.team_id, "--all")
    assert forgotten.returncode == 0, forgotten.stderr
    with db.transaction() as session:
        teams = set(session.scalars(select(InstalledWorkspace.team_id)))
    assert teams == {ACME.team_id}
    assert "TBETA" not in run(story, tmp_path, "check").stdout


@pytest.fixture
def acme_bot(story: dict[str, str], tmp_path: Path) -> Iterator[SlackClientForTests]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--http", "--no-scheduler", "--port", str(port)],
        env=story,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process)
        yield SlackClientForTests(url, SIGNING_SECRET)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output)  # shown when the test fails


def test_requests_of_another_workspace_are_refused_by_the_server(
    acme_bot: SlackClientForTests, slack: FakeSlack, db: Database
) -> None:
    # A web process with --no-scheduler registers the token's workspace too.
    with db.transaction() as session:
        teams = set(session.scalars(select(InstalledWorkspace.team_id)))
    assert ACME.team_id in teams

    for n, text in enumerate(("top week", "stats", f"stats <@{ANA}>")):
        for team, key in ((BETA.team_id, f"beta-{n}"), (ACME.team_id, f"acme-{n}")):
            status, _ = acme_bot.command(
                command="/appreciate",
                text=text,
                team_id=team,
                user_id=BIANCA if team == BETA.team_id else GIVER,
                response_url=slack.response_url(key),
            )
            assert status == 200
    slack.wait_for("response_url", 3, timeout=30)
    acme_bot.event({"type": "app_home_opened", "user": BIANCA, "tab": "home"}, team_id="TBETA")
    acme_bot.event({"type": "app_home_opened", "user": ANA, "tab": "home"}, team_id="T111")
    slack.wait_for("views.publish", 1, timeout=30)
    time.sleep(1.0)  # anything else in flight lands before the checks

    answered = {post["_key"] for post in slack.response_url_posts()}
    assert answered == {"acme-0", "acme-1", "acme-2"}
    published = slack.calls_to("views.publish")
    assert [c.params["user_id"] for c in published] == [ANA]
    assert "acme release notes" in json.dumps(published[0].params)
    assert_nothing_of_beta_reached_slack(slack)
    assert beta_pending(db) == "pending"


def test_a_message_of_another_workspace_is_refused_by_the_sender(
    story: dict[str, str],
    slack: FakeSlack,
    db: Database,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(
        slack_bot_token="xoxb-acme",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        database_url=db.url,
    )
    runtime = Runtime.create(settings, db=db, clock=clock)
    with db.transaction() as session:
        message_id = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == "beta-left-pending")
        )
    assert message_id is not None
    with caplog.at_level(logging.ERROR):
        (result,) = runtime.sender.deliver([message_id])

    assert result.status == "pending" and result.error == "foreign_workspace"
    assert not slack.calls_to("chat.postMessage")
    assert any("TBETA" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert beta_pending(db) == "pending"
    # And however often scheduled work runs with this token, it is never tried.
    assert message_id not in {d.id for d in runtime.sender.deliver_due()}
    assert beta_pending(db) == "pending"


G1, G2 = Workspace("TG1", "E1"), Workspace("TG2", "E1")
GRID_TOKENS = {G1.team_id: "xoxb-grid-one", G2.team_id: "xoxb-grid-two"}
G2_PEOPLE = ("UGTWO001", "UGTWO002")


def install(settings: Settings, workspace: Workspace) -> None:
    from slack_sdk.oauth.installation_store import Installation

    from bot.slack.oauth import installation_store

    db = Database(settings.database_url)
    installation_store(settings, db).save(
        Installation(
            app_id="A111",
            enterprise_id=workspace.enterprise_id,
            team_id=workspace.team_id,
            user_id=GIVER,
            bot_token=GRID_TOKENS[workspace.team_id],
            bot_id="B1",
            bot_user_id="UBOT",
            installed_at=time.time(),
        )
    )
    db.dispose()


@pytest.fixture
def grid(db: Database, slack: FakeSlack) -> dict[str, str]:
    """Two workspaces of one Enterprise Grid org, each installed on its own (OAuth mode)."""
    settings = Settings(
        slack_client_id="111.222",
        slack_client_secret="client-secret",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.url,
        database_url=db.url,
    )
    for uid in G2_PEOPLE:
        slack.add_user(uid, name=uid.lower(), real_name=f"Gtwo {uid}", tz="Europe/Paris")
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    for ws, who, why in (
        (G1, [GIVER, ANA, BEN], "grid-one roadmap"),
        (G2, list(G2_PEOPLE), "grid-two-secret pricing"),
    ):
        install(settings, ws)
        workspaces.ensure(db, ws, ws.team_id, now)
        people.remember(db, ws, [PersonInfo(u, u.lower(), "Europe/Paris") for u in who], now)
        mark_used(db, ws, who, now)
        thank(db, ws, who[0], who[1], why)
    slack.reset_calls()
    return clean_env(
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="client-secret",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
    )


def test_two_workspaces_of_one_grid_org_each_get_only_their_own(
    grid: dict[str, str], slack: FakeSlack, tmp_path: Path
) -> None:
    for instant in WEEK_OF_TICKS:
        ticked = run(grid, tmp_path, "tick", "--now", instant)
        assert ticked.returncode == 0, ticked.stderr

    digests = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C111"]
    by_token = {
        c.token: json.dumps(c.params) for c in digests if "advocates" in json.dumps(c.params)
    }
    assert set(by_token) == set(GRID_TOKENS.values())
    assert "grid-one roadmap" in by_token["xoxb-grid-one"]
    assert "grid-two-secret" in by_token["xoxb-grid-two"]
    for call in slack.calls:
        sent = json.dumps(call.params)
        if call.token == "xoxb-grid-one":
            assert "grid-two-secret" not in sent and not any(u in sent for u in G2_PEOPLE)
        if call.token == "xoxb-grid-two":
            assert "grid-one" not in sent and not any(u in sent for u in (GIVER, ANA, BEN))

    several = run(grid, tmp_path, "digest", "preview", "--week", "2026-W48")
    assert several.returncode == 2 and "--team" in several.stderr
    two = run(grid, tmp_path, "digest", "preview", "--week", "2026-W48", "--team", "TG2")
    assert two.returncode == 0 and "grid-two-secret" in two.stdout and "grid-one" not in two.stdout


def test_oauth_sender_refuses_a_token_of_another_workspace(
    grid: dict[str, str],
    slack: FakeSlack,
    db: Database,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from slack_sdk.oauth.installation_store import Bot

    from bot.slack.oauth import OAuthClients
    from bot.slack.outbox import OutboxSender

    class MixedUpStore:
        """An installation store that answers TG2's lookup with TG1's bot."""

        def find_bot(self, **_: object) -> Bot:
            return Bot(
                app_id="A111",
                enterprise_id="E1",
                team_id="TG1",
                bot_token="xoxb-grid-one",
                bot_id="B1",
                bot_user_id="UBOT",
                installed_at=time.time(),
            )

    settings = Settings(slack_client_id="111.222", slack_client_secret="s", slack_api_url=slack.url)
    clients = OAuthClients(settings, MixedUpStore())  # type: ignore[arg-type]
    with db.transaction() as session:
        message = direct_message(
            G2, key="g2-dm", user_id=G2_PEOPLE[0], message={"text": "grid-two"}, now=clock()
        )
        session.add(message)
        session.flush()
        message_id = message.id
    with caplog.at_level(logging.ERROR):
        (result,) = OutboxSender(db, clients, clock).deliver([message_id])

    assert result.error == "foreign_workspace"
    assert not slack.calls_to("chat.postMessage")
    assert any("TG2" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_an_org_wide_token_runs_the_scheduled_work_of_its_organisations_workspaces(
    db: Database, slack: FakeSlack, tmp_path: Path
) -> None:
    slack.add_org_token("xoxb-org", "E1", {"TG1": "Grid one"})
    for uid in (GIVER, ANA):
        slack.add_user(uid, tz="Europe/Paris")
    ours = Workspace("TG1", "E1")
    now = datetime(2026, 11, 24, 9, tzinfo=UTC)
    people.remember(db, ours, [PersonInfo(u, u.lower(), "Europe/Paris") for u in (GIVER, ANA)], now)
    mark_used(db, ours, [GIVER, ANA], now)
    thank(db, ours, GIVER, ANA, "grid roadmap")
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-org",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
        ADVOCATE_DIGEST_CHANNEL="C111",
    )

    for instant in WEEK_OF_TICKS:
        ticked = run(env, tmp_path, "tick", "--now", instant)
        assert ticked.returncode == 0, ticked.stderr

    [digest] = [m for m in slack.messages("C111") if "advocates" in m["text"]]
    assert "grid roadmap" in json.dumps(digest)
    assert any("buy-in" in json.dumps(m) for m in slack.messages(GIVER)), "no check-in"
    again = run(env, tmp_path, "digest", "post", "--week", "2026-W48", "--team", "TG1")
    assert again.returncode == 0 and "already posted" in again.stdout, again.stderr
