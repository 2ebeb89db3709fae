"""The workspaces the app serves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.services.workspace import Workspace
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import InstalledWorkspace


def ensure(db: Database, workspace: Workspace, name: str, now: datetime) -> None:
    """Record that the app serves `workspace` (again, if it had been uninstalled)."""
    with db.transaction() as session:
        # Several processes start at once (replicas, a cron'd tick): the first insert wins.
        insert_ignoring_conflicts(
            session,
            InstalledWorkspace,
            [
                {
                    "team_id": workspace.team_id,
                    "enterprise_id": workspace.enterprise_id,
                    "name": name,
                    "installed_at": now,
                }
            ],
            ["team_id"],
        )
        session.execute(
            update(InstalledWorkspace)
            .where(InstalledWorkspace.team_id == workspace.team_id)
            .values(name=name, uninstalled_at=None)
            .execution_options(synchronize_session=False)
        )


def active(db: Database, *, include_uninstalled: bool = False) -> list[Workspace]:
    """Workspaces the app serves (and, if asked, those whose data awaits the purge)."""
    query = select(InstalledWorkspace.team_id, InstalledWorkspace.enterprise_id)
    if not include_uninstalled:
        query = query.where(InstalledWorkspace.uninstalled_at.is_(None))
    with db.transaction() as session:
        rows = session.execute(query.order_by(InstalledWorkspace.team_id)).all()
    return [Workspace(r[0], r[1]) for r in rows]


def resolve(db: Database, team_id: str | None, *, include_uninstalled: bool = False) -> Workspace:
    """The workspace `--team` names, or the only one installed. Raises LookupError."""
    known = active(db, include_uninstalled=include_uninstalled)
    if team_id:
        for workspace in known:
            if workspace.team_id == team_id:
                return workspace
        raise LookupError(f"workspace {team_id} is not installed here")
    if len(known) == 1:
        return known[0]
    if not known:
        raise LookupError(
            "no workspace is installed yet; start the bot once, or run `advocate check`"
        )
    names = ", ".join(w.team_id for w in known)
    raise LookupError(f"several workspaces are installed ({names}); choose one with --team")
