"""`advocate export`: one workspace's data, as JSON or as one CSV file per kind of record."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.domain import Workspace
from bot.services import asks as ask_rules
from bot.store.db import Database
from bot.store.models import Appreciation, Ask, BuyInGoal, Listen, Obstacle, Person

KINDS = (
    "appreciations",
    "asks",
    "obstacles",
    "commitments",
    "buyin_goals",
    "listens",
    "checkin_settings",
)


def collect(db: Database, workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Every record of the workspace, kind by kind; nothing of any other workspace."""
    team = workspace.team_id
    with db.transaction() as session:
        appreciations = session.scalars(
            select(Appreciation).where(Appreciation.team_id == team).order_by(Appreciation.id)
        ).all()
        asks = session.scalars(select(Ask).where(Ask.team_id == team).order_by(Ask.id)).all()
        obstacles = session.scalars(
            select(Obstacle).where(Obstacle.team_id == team).order_by(Obstacle.id)
        ).all()
        goals = session.scalars(
            select(BuyInGoal).where(BuyInGoal.team_id == team).order_by(BuyInGoal.id)
        ).all()
        listens = session.scalars(
            select(Listen).where(Listen.team_id == team).order_by(Listen.id)
        ).all()
        people = session.scalars(
            select(Person).where(Person.team_id == team).order_by(Person.user_id)
        ).all()
        return {
            "appreciations": [
                {
                    "id": a.id,
                    "created_at": a.created_at,
                    "giver": a.giver_id,
                    "recipients": " ".join(a.recipient_ids),
                    "reason": a.reason,
                    "values": " ".join(a.company_values),
                    "private": a.is_private,
                    "said_in_private": a.said_in_private,
                    "channel": a.channel_id,
                    "message_link": a.message_permalink,
                    "ask_id": a.ask_id,
                }
                for a in appreciations
            ],
            "asks": [
                {
                    "id": k.id,
                    "created_at": k.created_at,
                    "asker": k.asker_id,
                    "helper": k.helper_id,
                    "request": k.request,
                    "channel": k.channel_id,
                    "said_in_private": k.said_in_private,
                    "status": k.status,
                    "due_on": k.due_on,
                    "decline_reason": k.decline_reason,
                    "done_at": k.done_at,
                    "thanked_at": k.thanked_at,
                }
                for k in asks
            ],
            "obstacles": [
                {
                    "id": o.id,
                    "ask_id": o.ask_id,
                    "description": o.description,
                    "status": o.status,
                    "created_at": o.created_at,
                    "resolved_at": o.resolved_at,
                }
                for o in obstacles
            ],
            "commitments": [
                {
                    "ask_id": k.id,
                    "helper": k.helper_id,
                    "committed_at": k.committed_at,
                    "committed_on": k.committed_on,
                    "done_at": k.done_at,
                    "kept_on_time": bool(
                        k.done_at
                        and (
                            (due := ask_rules.deadline(k)) is None
                            or k.done_at < ask_rules.end_of_day(due, k.timezone)
                        )
                    ),
                }
                for k in asks
                if k.committed_at is not None
            ],
            "buyin_goals": [
                {
                    "user": g.user_id,
                    "week": g.week,
                    "target": g.target_user_id,
                    "outcome": g.outcome,
                    "created_at": g.created_at,
                    "updated_at": g.updated_at,
                }
                for g in goals
            ],
            "listens": [
                {
                    "id": n.id,
                    "created_at": n.created_at,
                    "asker": n.asker_id,
                    "colleague": n.colleague_id,
                    "about": n.topic,
                    "status": n.status,
                    "need": n.need,
                    "gets_in_the_way": n.obstacle,
                    "how_to_ask": n.preference,
                    "answered_at": n.answered_at,
                    "acted_at": n.acted_at,
                    "follow_up": n.followup,
                }
                for n in listens
            ],
            "checkin_settings": [
                {
                    "user": p.user_id,
                    "stopped": p.checkins_stopped,
                    "paused_until": p.checkins_paused_until,
                    "day": p.checkin_day,
                    "time": p.checkin_time,
                }
                for p in people
                if p.checkins_stopped or p.checkins_paused_until or p.checkin_day
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as the text it is: a leading quote keeps a
    formula-like string from being run (OWASP's CSV injection rule)."""
    value = _plain(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_json(data: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(
        {
            kind: [{k: _plain(v) for k, v in row.items()} for row in rows]
            for kind, rows in data.items()
        },
        indent=2,
        ensure_ascii=False,
    )


def to_csv_files(data: dict[str, list[dict[str, Any]]], folder: Path) -> list[Path]:
    """One `<kind>.csv` per kind of record in `folder` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, rows in data.items():
        path = folder / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            if rows:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        written.append(path)
    return written
