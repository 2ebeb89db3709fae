"""Looking people up in Slack (`users.info`) and remembering what was learned."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Table, bindparam, select

from bot.domain import PersonInfo, Workspace
from bot.store.db import Database
from bot.store.models import Person
from bot.store.queries import insert_for


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
    """`lookup` for several people, except those Slack told about within `FRESH`;
    remembering all that were found in one transaction. None for an id Slack does not know.
    """
    ids = list(dict.fromkeys(user_ids))
    found: dict[str, PersonInfo | None] = dict(known(db, workspace, ids, now - FRESH))
    asked = {user_id: lookup(client, user_id) for user_id in ids if user_id not in found}
    remember(db, workspace, [info for info in asked.values() if info is not None], now)
    found.update(asked)
    return {user_id: found[user_id] for user_id in ids}


def known(
    db: Database, workspace: Workspace, user_ids: list[str], since: datetime
) -> dict[str, PersonInfo]:
    """What Slack told about these people since `since` (a lookup, a user_change event or
    the members list), as it told it."""
    with db.alone() as connection:
        rows = connection.execute(
            _KNOWN, {"team": workspace.team_id, "people": user_ids, "since": since}
        )
        return {
            row.user_id: PersonInfo(
                user_id=row.user_id,
                name=row.name or "",
                tz=row.tz,
                is_bot=bool(row.is_bot),
                deleted=bool(row.deleted),
                is_admin=bool(row.is_admin),
                is_guest=bool(row.is_guest),
            )
            for row in rows
        }


def remember(db: Database, workspace: Workspace, people: list[PersonInfo], now: datetime) -> None:
    """Keep the latest facts about these people (their timezone, whether they left).

    One upsert: safe when two requests about the same person arrive at once, as the row is
    inserted by whichever comes first and the other updates it.
    """
    if not people:
        return
    # Lost in a power cut, they are only looked up again.
    with db.alone(durable=False) as connection:
        connection.execute(
            _remembering(connection.dialect.name),
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


@cache
def _remembering(dialect: str) -> Any:
    """The upsert of `remember`, built once for each database."""
    table: Table = Person.__table__  # type: ignore[assignment]
    upsert = insert_for(dialect, table)
    return upsert.on_conflict_do_update(
        index_elements=["team_id", "user_id"],
        set_={column: upsert.excluded[column] for column in _LEARNED},
    )


# What Slack tells us about a person; the rest of the row is the app's own.
_LEARNED = ("name", "tz", "is_bot", "deleted", "is_admin", "is_guest", "refreshed_at")

# How long what Slack said about a person is used without asking again. Slack tells the
# app of every change to a person as it happens (the `user_change` event), so this only
# bounds what a missed event can leave stale.
FRESH = timedelta(hours=1)

# Built once: every request that names people reads them by it.
_KNOWN = select(
    Person.user_id,
    Person.name,
    Person.tz,
    Person.is_bot,
    Person.deleted,
    Person.is_admin,
    Person.is_guest,
).where(
    Person.team_id == bindparam("team"),
    Person.user_id.in_(bindparam("people", expanding=True)),
    Person.refreshed_at >= bindparam("since"),
)


def refresh_all(client: WebClient, db: Database, workspace: Workspace, now: datetime) -> int:
    """Read every member from `users.list` (paged) and remember them; returns how many."""
    members: list[PersonInfo] = []
    # team_id: an org-wide token of Enterprise Grid must say which workspace it means.
    for page in client.users_list(limit=200, team_id=workspace.team_id):
        members += [person_from_slack(user) for user in page.get("members", [])]
    for start in range(0, len(members), 500):
        remember(db, workspace, members[start : start + 500], now)
    return len(members)
