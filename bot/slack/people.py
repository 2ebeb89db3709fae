"""Looking people up in Slack (`users.info`) and remembering what was learned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain import PersonInfo, Workspace
from bot.store.db import Database
from bot.store.models import Person


def lookup(client: WebClient, user_id: str) -> PersonInfo | None:
    """The person as Slack knows them now, or None when Slack does not know the id."""
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as error:
        if error.response.get("error") in ("user_not_found", "users_not_found"):
            return None
        raise
    return person_from_slack(user)


def person_from_slack(user: dict) -> PersonInfo:
    profile = user.get("profile") or {}
    return PersonInfo(
        user_id=user["id"],
        name=profile.get("display_name") or user.get("real_name") or user.get("name") or "",
        tz=user.get("tz"),
        is_bot=bool(user.get("is_bot")) or user["id"] == "USLACKBOT",
        deleted=bool(user.get("deleted")),
        is_admin=bool(user.get("is_admin") or user.get("is_owner")),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
    )


def lookup_all(
    client: WebClient, db: Database, workspace: Workspace, user_ids: list[str], now: datetime
) -> dict[str, PersonInfo | None]:
    """`lookup` for several people, remembering all that were found in one transaction.

    None for an id Slack does not know.
    """
    found = {user_id: lookup(client, user_id) for user_id in dict.fromkeys(user_ids)}
    remember(db, workspace, [info for info in found.values() if info is not None], now)
    return found


def remember(db: Database, workspace: Workspace, people: list[PersonInfo], now: datetime) -> None:
    """Keep the latest facts about these people (their timezone, whether they left).

    One upsert: safe when two requests about the same person arrive at once, as the row is
    inserted by whichever comes first and the other updates it.
    """
    if not people:
        return
    with db.transaction() as session:
        upsert = _insert(session, Person)
        upsert = upsert.on_conflict_do_update(
            index_elements=["team_id", "user_id"],
            set_={column: upsert.excluded[column] for column in _LEARNED},
        )
        session.execute(
            upsert,
            [
                {
                    "team_id": workspace.team_id,
                    "enterprise_id": workspace.enterprise_id,
                    "user_id": info.user_id,
                    "name": info.name,
                    "tz": info.tz,
                    "is_bot": info.is_bot,
                    "deleted": info.deleted,
                    "is_admin": info.is_admin,
                    "is_guest": info.is_guest,
                    "checkins_stopped": False,
                    "refreshed_at": now,
                }
                for info in people
            ],
        )


# What Slack tells us about a person; the rest of the row is the app's own.
_LEARNED = ("name", "tz", "is_bot", "deleted", "is_admin", "is_guest", "refreshed_at")


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def refresh_all(client: WebClient, db: Database, workspace: Workspace, now: datetime) -> int:
    """Read every member from `users.list` (paged) and remember them; returns how many."""
    members: list[PersonInfo] = []
    # team_id: an org-wide token of Enterprise Grid must say which workspace it means.
    for page in client.users_list(limit=200, team_id=workspace.team_id):
        members += [person_from_slack(user) for user in page.get("members", [])]
    for start in range(0, len(members), 500):
        remember(db, workspace, members[start : start + 500], now)
    return len(members)
