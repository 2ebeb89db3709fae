"""Two workspaces on one app: neither sees the other; uninstall and the CLI data tools."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, workspaces
from bot.services.people import mark_used
from bot.slack import people
from tests.conftest import ANA, GIVER, AppServer, MovableClock
from tests.e2e.test_cli import clean_env
from tests.support.fake_slack import FakeSlack

OURS = Workspace("T111")
THEIRS = Workspace("T222")
SECRET = "a secret of the other workspace"


@pytest.fixture
def two(server: AppServer, slack: FakeSlack, clock: MovableClock) -> AppServer:
    db = server.runtime.db
    for ws in (OURS, THEIRS):
        workspaces.ensure(db, ws, ws.team_id, clock())
    people.remember(db, THEIRS, [PersonInfo(GIVER), PersonInfo(ANA, tz="UTC")], clock())
    mark_used(db, THEIRS, [GIVER, ANA], clock())
    for n in range(3):
        draft = appreciation.Draft(GIVER, [ANA], f"{SECRET} {n}", source_key=f"t{n}")
        appreciation.record(db, THEIRS, draft, PersonInfo(GIVER), clock(), daily_limit=99)
    return server


def test_commands_see_only_their_workspace(two: AppServer, slack: FakeSlack) -> None:
    for text, key in (("stats", "s"), ("top all", "t")):
        two.client.command(
            command="/appreciate", text=text, user_id=ANA, response_url=slack.response_url(key)
        )
    slack.wait_for("response_url", 2)
    stats = slack.response_url_posts("s")[0]["text"]
    assert "all time *0*" in stats
    assert "No public appreciation" in slack.response_url_posts("t")[0]["text"]


def test_home_sees_only_its_workspace(two: AppServer, slack: FakeSlack) -> None:
    two.client.event(
        {
            "type": "app_home_opened",
            "user": ANA,
            "tab": "home",
            "channel": "D1",
            "event_ts": str(time.time()),
        }
    )
    view = json.dumps(slack.wait_for("views.publish")[0].params["view"])
    assert SECRET not in view and "all time *0*" in view


def test_digest_and_checkins_stay_in_their_workspace(
    two: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    from bot.jobs.checkins import queue_checkins
    from bot.services import digest
    from bot.services.settings import for_workspace

    config = for_workspace(two.runtime.db, OURS, two.runtime.settings)
    for workspace, total in ((OURS, None), (THEIRS, 3)):
        window = digest.window(two.runtime.db, workspace, "2026-W48", config)
        built = digest.build(two.runtime.db, workspace, window, config.timezone)
        assert (built and built.total) == total

    clock.now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC
    assert queue_checkins(two.runtime, OURS, config, clock()) == 0
    assert queue_checkins(two.runtime, THEIRS, config, clock()) == 2


def test_export_holds_only_the_chosen_workspace(
    two: AppServer, slack: FakeSlack, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=two.runtime.db.url)
    ours = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--team", "T111"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    theirs = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--team", "T222"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    assert json.loads(ours.stdout)["appreciations"] == []
    assert len(json.loads(theirs.stdout)["appreciations"]) == 3
    several = subprocess.run(
        [sys.executable, "-m", "bot", "export"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert several.returncode != 0 and "--team" in several.stderr


def test_forget_from_the_command_line_is_idempotent(
    two: AppServer, slack: FakeSlack, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=two.runtime.db.url)
    args = [sys.executable, "-m", "bot", "forget", "--user", GIVER, "--team", "T222"]
    first = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    second = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and "appreciations: 3" in first.stdout
    assert second.returncode == 0 and "nothing of theirs was left" in second.stdout


def test_uninstall_event_stops_the_workspace_at_once(
    two: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    status, _ = two.client.event({"type": "app_uninstalled", "event_ts": "1.1"}, team_id="T111")
    assert status == 200
    for _ in range(100):
        if [w.team_id for w in workspaces.active(two.runtime.db)] == ["T222"]:
            break
        time.sleep(0.02)
    assert [w.team_id for w in workspaces.active(two.runtime.db)] == ["T222"]


def test_revoked_bot_token_stops_the_workspace(two: AppServer, slack: FakeSlack) -> None:
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT"]}, "event_ts": "1"}
    two.client.event(event, team_id="T111")
    for _ in range(100):
        if [w.team_id for w in workspaces.active(two.runtime.db)] == ["T222"]:
            break
        time.sleep(0.02)
    # The token's own workspace stops; the other one's data stays as it was.
    assert [w.team_id for w in workspaces.active(two.runtime.db)] == ["T222"]
