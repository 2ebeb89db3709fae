"""The `advocate` command, run as operators run it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.slack.scopes import BOT_SCOPES
from bot.store.db import Database
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port
from tests.support.serving import wait_serving


def advocate(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ADVOCATE_"))}
    env.pop("DATABASE_URL", None)
    env.update(values)
    return env


def test_run_without_a_token_names_the_missing_variable(tmp_path: Path) -> None:
    result = advocate("run", env=clean_env(), cwd=tmp_path)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SLACK_BOT_TOKEN" in lines[0] and "README" in lines[0]
    assert "Traceback" not in result.stderr


def test_run_in_http_mode_without_signing_secret_is_refused(tmp_path: Path) -> None:
    result = advocate("run", env=clean_env(SLACK_BOT_TOKEN="xoxb-1"), cwd=tmp_path)
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_socket_mode_without_bot_token_is_refused(tmp_path: Path) -> None:
    result = advocate("run", env=clean_env(SLACK_APP_TOKEN="xapp-1"), cwd=tmp_path)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    result = advocate("check", env=clean_env(ADVOCATE_TIMEZONE="Mars/Olympus"), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "advocate: ADVOCATE_TIMEZONE must be an IANA timezone like Europe/Paris, got "
        "'Mars/Olympus'."
    ]


def test_env_file_is_read_and_the_real_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ADVOCATE_TIMEZONE=Mars/Olympus\nADVOCATE_DAILY_LIMIT=0\n")
    result = advocate("check", env=clean_env(ADVOCATE_TIMEZONE="UTC"), cwd=tmp_path)
    assert "ADVOCATE_DAILY_LIMIT" in result.stderr  # from .env
    assert "TIMEZONE" not in result.stderr  # overridden by the environment


def test_migrate_then_check_reports_each_part(
    tmp_path: Path, slack: FakeSlack, db: Database
) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=slack.url,
        DATABASE_URL=db.url,
    )

    assert advocate("migrate", env=env, cwd=tmp_path).returncode == 0
    result = advocate("check", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines] == [
        "config",
        "token",
        "scopes",
        "database",
        "workspaces",
    ]
    assert all(line.startswith("ok") for line in lines)
    assert slack.calls_to("auth.test")


def test_check_names_missing_scopes(tmp_path: Path, db: Database) -> None:
    with FakeSlack(scopes=["commands", "chat:write"]) as slack:
        env = clean_env(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.url,
            DATABASE_URL=db.url,
        )
        result = advocate("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    scopes_line = next(line for line in result.stdout.splitlines() if "scopes" in line)
    assert scopes_line.startswith("FAIL") and "users:read" in scopes_line


def test_check_reports_a_refused_token(tmp_path: Path, slack: FakeSlack) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    with sqlite3.connect(tmp_path / "a.db") as existing:  # a database, but not Advocate's
        existing.execute("CREATE TABLE other (x)")
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=slack.url,
        DATABASE_URL=f"sqlite:///{tmp_path}/a.db",
    )
    result = advocate("check", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  token: auth.test refused it: invalid_auth" in result.stdout
    assert "FAIL  database: schema is out of date: run `advocate migrate`" in result.stdout


def test_check_on_a_fresh_sqlite_database_says_run_creates_it(tmp_path: Path) -> None:
    with FakeSlack(scopes=list(BOT_SCOPES)) as slack:
        env = clean_env(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.url,
            DATABASE_URL="sqlite:///advocate.db",
        )
        result = advocate("check", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    database = result.stdout.splitlines()[-1]
    assert database == (
        "ok    database: sqlite:///advocate.db does not exist yet; "
        "the first `advocate run` creates it with its schema"
    )
    assert "migrate" not in result.stdout
    assert not (tmp_path / "advocate.db").exists()  # checking creates nothing


def test_tick_runs_due_work_once(tmp_path: Path, slack: FakeSlack, db: Database) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.url, DATABASE_URL=db.url)
    result = advocate("tick", "--now", "2026-11-27T09:00:00Z", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "outbox: 0 sent" in result.stdout


def start_bot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_run_serves_http_on_sqlite_migrating_itself_and_stops_on_sigterm(
    tmp_path: Path, slack: FakeSlack, db: Database
) -> None:
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=slack.url,
        PORT=str(port),
    )
    process = start_bot(env, tmp_path, "run")
    try:
        assert wait_serving(f"http://127.0.0.1:{port}", process) == 200
        assert (tmp_path / "advocate.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode in (0, 130), output
    assert "Traceback" not in output


def test_run_with_an_app_token_uses_socket_mode_through_slack_api_url(
    tmp_path: Path, slack: FakeSlack
) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL=slack.url,
        PORT=str(free_port()),
    )
    process = start_bot(env, tmp_path, "run", "--no-scheduler")
    try:
        slack.wait_for("apps.connections.open", timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_scheduler_alone_stops_cleanly_on_sigterm(tmp_path: Path, slack: FakeSlack) -> None:
    env = clean_env(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack.url)
    process = start_bot(env, tmp_path, "scheduler")
    try:
        slack.wait_for("auth.test", timeout=20)  # it registered the workspace and is running
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode in (0, 130), output
    assert "Traceback" not in output
