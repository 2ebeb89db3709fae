"""People's display names as last seen, for text outside Slack (the terminal)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.domain import Workspace
from bot.store.db import Database
from bot.store.models import Person


def names_in(db: Database, workspace: Workspace) -> Callable[[str], str]:
    with db.transaction() as session:
        known = dict(
            session.execute(
                select(Person.user_id, Person.name).where(Person.team_id == workspace.team_id)
            ).all()
        )
    return lambda user_id: f"@{known.get(user_id) or user_id}"
