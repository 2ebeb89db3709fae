"""Who is who in a workspace: admins, the check-in audience, people who used the app."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services.settings import WorkspaceSettings
from bot.store.db import Database
from bot.store.models import Person


def admins_of(db: Database, workspace: Workspace, config: WorkspaceSettings) -> list[str]:
    """Slack admins and owners the app knows of, plus the configured extra admins."""
    with db.transaction() as session:
        slack_admins = session.scalars(
            select(Person.user_id).where(
                Person.team_id == workspace.team_id,
                Person.is_admin.is_(True),
                Person.deleted.is_(False),
            )
        )
        return sorted(set(slack_admins) | set(config.admins))


def mark_used(db: Database, workspace: Workspace, user_ids: list[str], now: datetime) -> None:
    """Remember that these people used the app (they join the default check-in audience)."""
    with db.transaction() as session:
        mark_used_in(session, workspace, user_ids, now)


def mark_used_in(
    session: Session, workspace: Workspace, user_ids: list[str], now: datetime
) -> None:
    """`mark_used` in a transaction already open."""
    session.execute(_MARK_USED, {"team": workspace.team_id, "people": user_ids, "now": now})


# Built once: every appreciation recorded runs it.
_MARK_USED = (
    update(Person)
    .where(
        Person.team_id == bindparam("team"),
        Person.user_id.in_(bindparam("people", expanding=True)),
        Person.used_app_at.is_(None),
    )
    .values(used_app_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)
