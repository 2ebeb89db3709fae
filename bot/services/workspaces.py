"""The workspaces the app serves, and, in token mode, the one workspace its token serves."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from bot.domain import TokenOwner, Workspace
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import BotToken, InstalledWorkspace

log = logging.getLogger(__name__)


def ensure(
    db: Database, workspace: Workspace, name: str, now: datetime, *, reinstalled: bool = True
) -> None:
    """Record that the app serves `workspace`: again, if it had been uninstalled, when
    `reinstalled` (an install, a token that works); a request alone never undoes an uninstall."""
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
        if reinstalled:
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


def served(db: Database, team_id: str) -> tuple[Workspace, str] | None:
    """The workspace `team_id` and its name, while the app serves it; None once uninstalled
    or never installed."""
    with db.transaction() as session:
        row = session.execute(
            select(
                InstalledWorkspace.team_id,
                InstalledWorkspace.enterprise_id,
                InstalledWorkspace.name,
            ).where(
                InstalledWorkspace.team_id == team_id, InstalledWorkspace.uninstalled_at.is_(None)
            )
        ).first()
    return None if row is None else (Workspace(row[0], row[1]), row[2] or "")


def resolve(
    db: Database, team_id: str | None, owner: TokenOwner | None, *, cleanup: bool = False
) -> Workspace:
    """The workspace a command works on. Raises LookupError with the reason.

    Token mode (`owner` is the token's workspace): that workspace, whatever else the database
    holds; another one only for cleaning up (`cleanup`: export, forget) and only when
    `team_id` names it. OAuth mode: the one `team_id` names, or the only one installed.
    """
    if owner is not None and not owner.org_wide and team_id in (None, "", owner.team_id):
        return owner.workspace
    known = active(db, include_uninstalled=True)
    if team_id:
        named = next((w for w in known if w.team_id == team_id), None)
        if named is not None and (owner is None or owner.serves(named) or cleanup):
            return named
        if owner is None:
            raise LookupError(f"workspace {team_id} is not installed here")
        if named is None:
            raise LookupError(
                f"workspace {team_id} is not in the database; SLACK_BOT_TOKEN serves {owner}"
            )
        raise LookupError(
            f"workspace {team_id} is not the one SLACK_BOT_TOKEN serves ({owner}); "
            "only `advocate export` and `advocate forget` may name it, to clean it up"
        )
    candidates = active(db) if owner is None else [w for w in active(db) if owner.serves(w)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LookupError(
            "no workspace is installed yet; start the bot once, or run `advocate check`"
        )
    names = ", ".join(w.team_id for w in candidates)
    raise LookupError(f"several workspaces are installed ({names}); choose one with --team")


def token_revoked(db: Database, token_sha256: str) -> bool:
    """Whether this token served a workspace the app was uninstalled from (or Slack said
    it is revoked): it never registers a workspace again."""
    with db.transaction() as session:
        row = session.get(BotToken, token_sha256)
        return row is not None and row.revoked_at is not None


def revoke_token(db: Database, token_sha256: str, now: datetime) -> None:
    with db.transaction() as session:
        session.execute(
            update(BotToken)
            .where(BotToken.token_sha256 == token_sha256, BotToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


def token_owner(db: Database, token_sha256: str) -> TokenOwner | None:
    """The workspace this token was found to belong to, if it was seen before."""
    with db.transaction() as session:
        row = session.get(BotToken, token_sha256)
        if row is None:
            return None
        return TokenOwner(row.team_id, row.enterprise_id, row.name, row.org_wide)


def remember_token(db: Database, token_sha256: str, owner: TokenOwner, now: datetime) -> None:
    """Remember the workspace a token belongs to. A new token that serves another workspace
    than the token before it is said once in the log, with what the database still holds."""
    with db.transaction() as session:
        previous = session.execute(
            select(BotToken.team_id).order_by(BotToken.first_seen_at.desc()).limit(1)
        ).scalar_one_or_none()
        inserted = insert_ignoring_conflicts(
            session,
            BotToken,
            [
                {
                    "token_sha256": token_sha256,
                    "team_id": owner.team_id,
                    "enterprise_id": owner.enterprise_id,
                    "org_wide": owner.org_wide,
                    "name": owner.name,
                    "first_seen_at": now,
                }
            ],
            ["token_sha256"],
        )
    left = not_served(db, owner)
    if inserted and left and previous != owner.team_id:
        log.warning(
            "SLACK_BOT_TOKEN now serves %s. The database also holds %s, which this token "
            "does not serve: that data is kept but never shown, sent or worked on; "
            "`advocate check` says how to remove it",
            owner,
            ", ".join(f"{name} ({team})" if name else team for team, name in left),
        )


def not_served(db: Database, owner: TokenOwner) -> list[tuple[str, str]]:
    """(team id, name) of the workspaces in the database that this token does not serve."""
    with db.transaction() as session:
        rows = session.execute(
            select(
                InstalledWorkspace.team_id,
                InstalledWorkspace.enterprise_id,
                InstalledWorkspace.name,
            ).order_by(InstalledWorkspace.team_id)
        ).all()
    return [
        (team, name)
        for team, enterprise, name in rows
        if not owner.serves(Workspace(team, enterprise))
    ]
