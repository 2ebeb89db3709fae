"""`advocate tick` reads the workspace's teams (Slack user groups) for the insights page,
twice a day at most, and goes on with its other work when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import Team, TeamMember
from tests.e2e.test_cli import advocate, clean_env
from tests.support.fake_slack import FakeSlack

NOW = "--now"
# A morning relative to the real clock: the tick's other work (digests, check-ins) then
# meets no date that has passed.
MORNING = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)


def at(hours: float) -> str:
    return (MORNING + timedelta(hours=hours)).isoformat()


def kept(db: Database) -> dict[str, list[str]]:
    with db.transaction() as session:
        names = dict(session.execute(select(Team.group_id, Team.name)).all())
        members: dict[str, list[str]] = {}
        for group_id, user_id in session.execute(
            select(TeamMember.group_id, TeamMember.user_id).order_by(TeamMember.user_id)
        ):
            members.setdefault(names[group_id], []).append(user_id)
    return members


def tick(slack: FakeSlack, db: Database, tmp_path: Path, at: str) -> str:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.url, DATABASE_URL=db.url)
    result = advocate("tick", NOW, at, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_the_tick_reads_the_teams_twice_a_day(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    slack.add_usergroup("SSALES", "Sales", ["U0001", "U0002", "U0003"])
    slack.add_usergroup("SADMINS", "Admins", ["U0001"], auto_type="admin")
    slack.add_usergroup("SGONE", "Old team", ["U0004"], disabled=True)

    tick(slack, db, tmp_path, at(0))

    assert kept(db) == {"Sales": ["U0001", "U0002", "U0003"]}
    slack.add_usergroup("SOPS", "Ops", ["U0004"])
    tick(slack, db, tmp_path, at(6))
    assert len(slack.calls_to("usergroups.list")) == 1
    tick(slack, db, tmp_path, at(12.5))
    assert len(slack.calls_to("usergroups.list")) == 2
    assert kept(db) == {"Sales": ["U0001", "U0002", "U0003"], "Ops": ["U0004"]}


def test_without_the_scope_or_with_slack_failing_the_tick_goes_on(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    slack.add_usergroup("SSALES", "Sales", ["U0001", "U0002", "U0003"])
    slack.fail_next("usergroups.list", status=500)

    tick(slack, db, tmp_path, at(0))

    assert kept(db) == {}
    assert "outbox:" in tick(slack, db, tmp_path, at(5 / 60))
    assert kept(db) == {"Sales": ["U0001", "U0002", "U0003"]}
    slack.scopes.remove("usergroups:read")
    output = tick(slack, db, tmp_path, at(24))
    assert kept(db) == {} and "Traceback" not in output
