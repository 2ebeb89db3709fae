"""The workspace's teams (Slack user groups) and who is in them, as the insights page reads
them. Slack is the source: each read replaces what was kept, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.domain import Workspace
from bot.services import insight_tallies
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import InstalledWorkspace, Team, TeamMember


@dataclass(frozen=True)
class TeamInfo:
    group_id: str
    handle: str = ""
    name: str = ""
    members: list[str] = field(default_factory=list)


def replace(db: Database, workspace: Workspace, teams: list[TeamInfo], now: datetime) -> bool:
    """Keep `teams` as the workspace's teams, instead of what was kept before. True when
    who is in which team changed: the map's kept weeks are then drawn again."""
    scope = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    wanted = {(t.group_id, user_id) for t in teams for user_id in t.members}
    with db.transaction() as session:
        were = {
            (group_id, user_id)
            for group_id, user_id in session.execute(
                select(TeamMember.group_id, TeamMember.user_id).where(
                    TeamMember.team_id == workspace.team_id
                )
            )
        }
        changed = were != wanted
        if changed:
            insight_tallies.invalidate(session, workspace, kinds=[insight_tallies.TEAMS])
        session.execute(delete(TeamMember).where(TeamMember.team_id == workspace.team_id))
        session.execute(delete(Team).where(Team.team_id == workspace.team_id))
        insert_ignoring_conflicts(
            session,
            Team,
            [{**scope, "group_id": t.group_id, "handle": t.handle, "name": t.name} for t in teams],
            ["team_id", "group_id"],
        )
        insert_ignoring_conflicts(
            session,
            TeamMember,
            [
                {**scope, "group_id": t.group_id, "user_id": user_id}
                for t in teams
                for user_id in dict.fromkeys(t.members)
            ],
            ["team_id", "group_id", "user_id"],
        )
        session.execute(
            update(InstalledWorkspace)
            .where(InstalledWorkspace.team_id == workspace.team_id)
            .values(teams_refreshed_at=now)
        )
    return changed


def refreshed_at(db: Database, workspace: Workspace) -> datetime | None:
    with db.transaction() as session:
        return session.scalar(
            select(InstalledWorkspace.teams_refreshed_at).where(
                InstalledWorkspace.team_id == workspace.team_id
            )
        )
