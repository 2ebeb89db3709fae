"""A workspace's data from install to purge, and one person's right to be forgotten."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from bot.domain import Workspace
from bot.services.digest import GHOST_PREFIX
from bot.store import queries
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    Base,
    BuyInGoal,
    CheckinNudge,
    DailyGiving,
    InstalledWorkspace,
    Listen,
    Obstacle,
    OutboxMessage,
    Person,
    ReactionThanks,
    SettingsChange,
    WorkspaceSetting,
)

log = logging.getLogger(__name__)

REMOVED = "[removed at this person's request]"


def uninstalled(db: Database, workspace: Workspace, now: datetime) -> None:
    """The app left the workspace: scheduled work stops now; data waits for the purge."""
    with db.transaction() as session:
        session.execute(
            update(InstalledWorkspace)
            .where(
                InstalledWorkspace.team_id == workspace.team_id,
                InstalledWorkspace.uninstalled_at.is_(None),
            )
            .values(uninstalled_at=now)
            .execution_options(synchronize_session=False)
        )
        # Nothing more is sent there: the token is gone.
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.team_id == workspace.team_id, OutboxMessage.status == "pending"
            )
        )
    log.warning(
        "workspace %s uninstalled; its data is kept until the retention ends", workspace.team_id
    )


def purge_expired(db: Database, now: datetime, retention_days: int) -> list[str]:
    """Delete every row of workspaces uninstalled more than `retention_days` ago."""
    cutoff = now - timedelta(days=retention_days)
    with db.transaction() as session:
        teams = list(
            session.scalars(
                select(InstalledWorkspace.team_id).where(
                    InstalledWorkspace.uninstalled_at.is_not(None),
                    InstalledWorkspace.uninstalled_at <= cutoff,
                )
            )
        )
    for team_id in teams:
        purge(db, team_id)
        log.warning(
            "purged the data of workspace %s (uninstalled over %s days ago)",
            team_id,
            retention_days,
        )
    return teams


def purge(db: Database, team_id: str) -> None:
    with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if "team_id" in table.c:
                session.execute(delete(table).where(table.c.team_id == team_id))


def forget(db: Database, workspace: Workspace, user_id: str) -> dict[str, int]:
    """Erase what `user_id` wrote and what identifies them; other people's counts stay.

    Their appreciations of others stay as anonymous thanks (the reason removed), asks they
    made or received keep their state without their words, and their own records (goals,
    check-in choices, pending messages to them, what they asked or answered with /listen)
    are deleted. Safe to run again.
    """
    ghost = (
        GHOST_PREFIX
        + hashlib.sha256(f"{workspace.team_id}:{user_id}".encode()).hexdigest()[:10].upper()
    )
    team = workspace.team_id
    counts: dict[str, int] = {}
    with db.transaction() as session:

        def run(name: str, statement: object) -> None:
            counts[name] = counts.get(name, 0) + int(
                getattr(session.execute(statement), "rowcount", 0) or 0  # type: ignore[call-overload]
            )

        run(
            "appreciations given",
            update(Appreciation)
            .where(Appreciation.team_id == team, Appreciation.giver_id == user_id)
            .values(giver_id=ghost, reason=REMOVED, message_permalink=None)
            .execution_options(synchronize_session=False),
        )
        session.execute(
            update(AppreciationRecipient)
            .where(AppreciationRecipient.team_id == team, AppreciationRecipient.giver_id == user_id)
            .values(giver_id=ghost)
            .execution_options(synchronize_session=False)
        )
        queries.replace_giver_in_all_time(session, workspace, user_id, ghost)
        session.execute(
            delete(DailyGiving).where(DailyGiving.team_id == team, DailyGiving.giver_id == user_id)
        )
        run(
            "appreciations received",
            delete(AppreciationRecipient).where(
                AppreciationRecipient.team_id == team, AppreciationRecipient.user_id == user_id
            ),
        )
        queries.recount_all_time(session, workspace, [user_id])
        asked = list(
            session.scalars(
                select(Ask.id).where(
                    Ask.team_id == team, (Ask.asker_id == user_id) | (Ask.helper_id == user_id)
                )
            )
        )
        run(
            "asks",
            update(Ask)
            .where(Ask.team_id == team, Ask.asker_id == user_id)
            .values(asker_id=ghost, request=REMOVED)
            .execution_options(synchronize_session=False),
        )
        run(
            "asks",
            update(Ask)
            .where(Ask.team_id == team, Ask.helper_id == user_id)
            .values(helper_id=ghost, decline_reason=None)
            .execution_options(synchronize_session=False),
        )
        if asked:
            run(
                "obstacles",
                update(Obstacle)
                .where(Obstacle.team_id == team, Obstacle.ask_id.in_(asked))
                .values(description=REMOVED)
                .execution_options(synchronize_session=False),
            )
        run(
            "buy-in goals",
            delete(BuyInGoal).where(BuyInGoal.team_id == team, BuyInGoal.user_id == user_id),
        )
        run(
            "buy-in goals",
            update(BuyInGoal)
            .where(BuyInGoal.team_id == team, BuyInGoal.target_user_id == user_id)
            .values(target_user_id=ghost)
            .execution_options(synchronize_session=False),
        )
        # What they asked with /listen or answered: the words are theirs and the other
        # person's alone, so the whole exchange goes, with any message about it not sent yet.
        listened = list(
            session.scalars(
                select(Listen.id).where(
                    Listen.team_id == team,
                    (Listen.asker_id == user_id) | (Listen.colleague_id == user_id),
                )
            )
        )
        for listen_id in listened:
            session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.team_id == team,
                    OutboxMessage.dedupe_key.startswith(f"listen:{listen_id}:"),
                    OutboxMessage.status == "pending",
                )
            )
        if listened:
            run("listens", delete(Listen).where(Listen.team_id == team, Listen.id.in_(listened)))
        run(
            "reactions",
            delete(ReactionThanks).where(
                ReactionThanks.team_id == team,
                (ReactionThanks.giver_id == user_id) | (ReactionThanks.author_id == user_id),
            ),
        )
        run(
            "check-in nudges",
            delete(CheckinNudge).where(
                CheckinNudge.team_id == team,
                (CheckinNudge.user_id == user_id) | (CheckinNudge.target_user_id == user_id),
            ),
        )
        run(
            "messages",
            delete(OutboxMessage).where(
                OutboxMessage.team_id == team, OutboxMessage.user_id == user_id
            ),
        )
        run(
            "settings changes",
            update(SettingsChange)
            .where(SettingsChange.team_id == team, SettingsChange.user_id == user_id)
            .values(user_id=ghost)
            .execution_options(synchronize_session=False),
        )
        run("profile", delete(Person).where(Person.team_id == team, Person.user_id == user_id))
        mention = re.compile(rf"<@{re.escape(user_id)}(\|[^>]*)?>")
        for model, column in (
            (Appreciation, "reason"),
            (Ask, "request"),
            (Obstacle, "description"),
        ):
            text_column = getattr(model, column)
            for row in session.scalars(
                select(model).where(model.team_id == team, text_column.contains(f"<@{user_id}"))
            ):
                setattr(row, column, mention.sub("someone", getattr(row, column)))
                counts["mentions"] = counts.get("mentions", 0) + 1
        setting = session.scalar(select(WorkspaceSetting).where(WorkspaceSetting.team_id == team))
        if setting and user_id in (setting.overrides.get("admins") or []):
            overrides = dict(setting.overrides)
            overrides["admins"] = [a for a in overrides["admins"] if a != user_id]
            setting.overrides = overrides
        if setting and setting.updated_by == user_id:
            setting.updated_by = ghost
    return counts
