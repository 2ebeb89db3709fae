"""The counting queries shared by commands, the Home and the digest: one place, one meaning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, desc, func, select
from sqlalchemy.orm import Session

from bot.services.workspace import Workspace
from bot.store.models import Appreciation, AppreciationRecipient


@dataclass(frozen=True)
class Standing:
    user_id: str
    received: int
    distinct_givers: int


def _in_workspace(query: Select, workspace: Workspace, since: datetime | None) -> Select:
    query = query.where(Appreciation.team_id == workspace.team_id)
    if since is not None:
        query = query.where(Appreciation.created_at >= since)
    return query


def count_received(
    session: Session, workspace: Workspace, user_id: str, since: datetime | None
) -> int:
    query = (
        select(func.count(AppreciationRecipient.id))
        .join(Appreciation, AppreciationRecipient.appreciation_id == Appreciation.id)
        .where(AppreciationRecipient.user_id == user_id)
    )
    return session.scalar(_in_workspace(query, workspace, since)) or 0


def count_given(
    session: Session, workspace: Workspace, user_id: str, since: datetime | None
) -> int:
    query = select(func.count(Appreciation.id)).where(Appreciation.giver_id == user_id)
    return session.scalar(_in_workspace(query, workspace, since)) or 0


def leaderboard(
    session: Session, workspace: Workspace, since: datetime | None, limit: int
) -> list[Standing]:
    """Public appreciation received per person; private appreciation is never ranked."""
    received = func.count(AppreciationRecipient.id).label("received")
    givers = func.count(func.distinct(Appreciation.giver_id)).label("givers")
    query = (
        select(AppreciationRecipient.user_id, received, givers)
        .join(Appreciation, AppreciationRecipient.appreciation_id == Appreciation.id)
        .where(Appreciation.is_private.is_(False))
        .group_by(AppreciationRecipient.user_id)
        .order_by(desc(received), desc(givers), AppreciationRecipient.user_id)
        .limit(limit)
    )
    rows = session.execute(_in_workspace(query, workspace, since)).all()
    return [Standing(user_id=r[0], received=r[1], distinct_givers=r[2]) for r in rows]


def recent_received(
    session: Session, workspace: Workspace, user_id: str, limit: int
) -> list[Appreciation]:
    """The latest appreciation `user_id` received, newest first (private included: it is
    theirs to see)."""
    query = (
        select(Appreciation)
        .join(AppreciationRecipient, AppreciationRecipient.appreciation_id == Appreciation.id)
        .where(AppreciationRecipient.user_id == user_id)
        .order_by(Appreciation.created_at.desc(), Appreciation.id.desc())
        .limit(limit)
    )
    return list(session.scalars(_in_workspace(query, workspace, None)))


def public_since(session: Session, workspace: Workspace, since: datetime) -> list[Appreciation]:
    query = (
        select(Appreciation)
        .where(Appreciation.is_private.is_(False))
        .order_by(Appreciation.created_at, Appreciation.id)
    )
    return list(session.scalars(_in_workspace(query, workspace, since)))
