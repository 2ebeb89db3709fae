"""Your people on the Home, at scale and through the real `advocate run` process."""

from __future__ import annotations

import json
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dataset import bulk_insert
from bot.blocks.appreciation import APPRECIATE_PERSON, appreciate_person_value
from bot.blocks.listening import LISTEN_OPEN
from bot.services import workspaces
from bot.store.db import Database
from bot.store.models import Appreciation, AppreciationRecipient, Ask, Listen
from tests.conftest import ANA, BEN, GIVER, AppServer, MovableClock
from tests.e2e.processes import bot_env, running
from tests.e2e.test_home_and_settings import WS, open_home
from tests.integration.test_relationships import ask, listen, people_shown, thank
from tests.support.blockkit import assert_valid_home, assert_valid_modal
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import block_actions_payload

ME = "UADM"  # an admin: their Home also carries the workspace's settings
COLLEAGUES = [f"U5{n:04d}" for n in range(500)]
APPRECIATIONS = 10_000  # received, and as many given


def seed_long_history(db: Database, now: datetime) -> None:
    """Three years of history with 500 colleagues: 10,000 appreciations each way, 1,000
    asks each way (some kept), 500 answered `/listen`s and 15 asks still open."""
    rng = random.Random(5)
    start = now - timedelta(days=3 * 365)

    def when() -> datetime:
        return start + timedelta(seconds=rng.random() * (now - start).total_seconds())

    def someone() -> str:
        # Some colleagues far more often than others, as in real workspaces.
        return COLLEAGUES[int(len(COLLEAGUES) * rng.random() ** 2)]

    appreciations, recipients = [], []
    for n in range(2 * APPRECIATIONS):
        giver, recipient = (someone(), ME) if n < APPRECIATIONS else (ME, someone())
        row = {
            "id": n + 1,
            "team_id": WS.team_id,
            "giver_id": giver,
            "reason": f"thanks #{n}",
            "company_values": [],
            "is_private": n % 10 == 0,
            "source_key": f"bulk{n}",
            "created_at": when(),
        }
        appreciations.append(row)
        recipients.append(
            {
                "id": n + 1,
                "team_id": WS.team_id,
                "appreciation_id": n + 1,
                "user_id": recipient,
                "giver_id": giver,
                "is_private": row["is_private"],
                "created_at": row["created_at"],
            }
        )
    asks = []
    for n in range(2_015):
        other, at = someone(), when()
        status = "committed" if n >= 2_000 else ("done", "declined", "asked")[n % 3]
        asks.append(
            {
                "team_id": WS.team_id,
                "asker_id": ME if n % 2 else other,
                "helper_id": other if n % 2 else ME,
                "request": f"the rollout plan, part {n}",
                "channel_id": "C111",
                "from_message": False,
                "timezone": "UTC",
                "status": status,
                "source_key": f"ask{n}",
                "created_at": at,
                "updated_at": at,
                "done_at": at + timedelta(days=2) if status == "done" else None,
            }
        )
    listens = [
        {
            "team_id": WS.team_id,
            "asker_id": ME,
            "colleague_id": colleague,
            "status": "answered",
            "need": f"Earlier notice before launches, {colleague} " + "and context " * 30,
            "followup": "open",
            "not_yet": 0,
            "source_key": f"listen{n}",
            "created_at": (at := when()),
            "answered_at": at + timedelta(hours=3),
        }
        for n, colleague in enumerate(COLLEAGUES)
    ]
    with db.engine.begin() as connection:
        bulk_insert(connection, Appreciation, appreciations)
        bulk_insert(connection, AppreciationRecipient, recipients)
        bulk_insert(connection, Ask, asks)
        bulk_insert(connection, Listen, listens)


def test_home_of_a_person_with_long_history_and_500_colleagues_shows_eight_within_limits(
    server: AppServer, slack: FakeSlack, clock: MovableClock
) -> None:
    slack.add_user(ME, name="admin", is_admin=True, tz="Europe/Paris")
    workspaces.ensure(server.runtime.db, WS, "Example", clock())
    seed_long_history(server.runtime.db, clock())

    started = time.monotonic()
    view = open_home(server, slack, ME)
    elapsed = time.monotonic() - started

    assert len(view["blocks"]) <= 100
    assert len(json.dumps(view).encode()) < 250_000
    shown = people_shown(view)
    assert len(shown) == 8 and set(shown) <= set(COLLEAGUES)
    assert all("What they need, as they told you" in text for text, _ in shown.values())
    assert "Workspace settings" in json.dumps(view) and "10 more" in json.dumps(view)
    assert elapsed < 5, f"the Home took {elapsed:.1f} s"


def test_the_running_bot_publishes_your_people_with_both_buttons(
    slack: FakeSlack, db: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC)  # the process keeps real time
    thank(db, GIVER, [ANA], now - timedelta(days=36))
    ask(db, GIVER, BEN, now - timedelta(days=9), done_at=now - timedelta(days=2))
    listen(db, GIVER, ANA, now - timedelta(days=3), "A heads-up before each launch")

    with running(bot_env(slack, db), tmp_path, "run", "--http", "--no-scheduler") as bot:
        try:
            assert bot.client is not None
            status, _ = bot.client.event({"type": "app_home_opened", "user": GIVER, "tab": "home"})
            assert status == 200
            call = slack.wait_for("views.publish", timeout=30)[-1]
            # Its Appreciate button opens the form with the colleague already chosen.
            click = block_actions_payload(
                action_id=APPRECIATE_PERSON,
                value=appreciate_person_value(ANA),
                user_id=GIVER,
                view=call.params["view"],
            )
            assert bot.client.interactive(click)[0] == 200
            form = slack.wait_for("views.open", timeout=30)[-1].params["view"]
        finally:
            log = bot.stop(signal.SIGKILL)
            print(log)  # pytest shows it when the test fails

    assert call.params["user_id"] == GIVER
    view: dict[str, Any] = call.params["view"]
    assert_valid_home(view)
    assert "*Your people*" in json.dumps(view)
    shown = people_shown(view)
    assert list(shown) == [ANA, BEN]
    ana, buttons = shown[ANA]
    assert "last thanked 5 weeks ago" in ana and "A heads-up before each launch" in ana
    assert "1 commitment kept for you" in shown[BEN][0]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (APPRECIATE_PERSON, appreciate_person_value(ANA)),
        (LISTEN_OPEN, ANA),
    ]
    assert_valid_modal(form)
    assert f'"initial_users": ["{ANA}"]' in json.dumps(form)
    assert "Traceback" not in log
