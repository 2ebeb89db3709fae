"""A workspace's data from install to purge, and one person's right to be forgotten."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services import insight_tallies, steps
from bot.services.digest import GHOST_PREFIX
from bot.services.retention import erased_body
from bot.store import queries
from bot.store.db import Database
from bot.store.models import (
    Appreciation,
    AppreciationRecipient,
    Ask,
    Base,
    BotToken,
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
    SlackRequest,
    TeamMember,
    WebSession,
    WorkspaceSetting,
    slack_installations,
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
        # Token mode: the token that served it is revoked; it must never register it again.
        session.execute(
            update(BotToken)
            .where(BotToken.team_id == workspace.team_id, BotToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        # Nobody of the workspace sees its pages any more.
        session.execute(delete(WebSession).where(WebSession.team_id == workspace.team_id))
        # Nothing more is sent there: the token is gone.
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.team_id == workspace.team_id, OutboxMessage.status == "pending"
            )
        )
        # Nor is any step's run ended: their tokens go with the app.
        steps.uninstalled(session, workspace, now)
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
            # A revoked token is remembered (a hash, no personal data), so that it never
            # registers the purged workspace again.
            if "team_id" in table.c and table is not BotToken.__table__:
                session.execute(delete(table).where(table.c.team_id == team_id))


def forget(db: Database, workspace: Workspace, user_id: str, now: datetime) -> dict[str, int]:
    """Erase what `user_id` wrote and what identifies them, from every table; other people's
    counts stay. Returns how many rows of each table were erased or changed.

    Their appreciations of others stay as anonymous thanks (the reason removed), asks they
    made or received keep their state without their words, other people's words about them
    stay without their user ID, and their own records (goals, check-in choices, what they
    asked or answered with /listen) are deleted. Messages that carried their words or ID are
    deleted when not sent yet, and otherwise keep only their key (so nothing is sent twice),
    with the ID in it replaced. Safe to run again.
    """
    ghost = ghost_of(workspace, user_id)
    team = workspace.team_id
    counts: Counter[str] = Counter()
    with db.transaction() as session:

        def run(statement: Any) -> None:
            result = session.execute(statement.execution_options(synchronize_session=False))
            counts[statement.table.name] += int(getattr(result, "rowcount", 0) or 0)

        # Words of theirs that others thanked by reaction became those appreciations' reason.
        quoted = [
            appreciation_id
            for appreciation_id in session.scalars(
                select(ReactionThanks.appreciation_id).where(
                    ReactionThanks.team_id == team,
                    ReactionThanks.author_id == user_id,
                    ReactionThanks.appreciation_id.is_not(None),
                )
            )
            if appreciation_id is not None
        ]
        given = list(
            session.scalars(
                select(Appreciation.id).where(
                    Appreciation.team_id == team, Appreciation.giver_id == user_id
                )
            )
        )
        asked = list(
            session.scalars(
                select(Ask.id).where(
                    Ask.team_id == team, (Ask.asker_id == user_id) | (Ask.helper_id == user_id)
                )
            )
        )
        listened = list(
            session.scalars(
                select(Listen.id).where(
                    Listen.team_id == team,
                    (Listen.asker_id == user_id) | (Listen.colleague_id == user_id),
                )
            )
        )
        _forget_messages(
            session, workspace, user_id, ghost, given + quoted, asked, listened, run, now
        )
        run(
            update(Appreciation)
            .where(Appreciation.team_id == team, Appreciation.giver_id == user_id)
            .values(giver_id=ghost, reason=REMOVED, message_permalink=None)
        )
        if quoted:
            run(
                update(Appreciation)
                .where(Appreciation.team_id == team, Appreciation.id.in_(quoted))
                .values(reason=REMOVED)
            )
        run(
            update(AppreciationRecipient)
            .where(AppreciationRecipient.team_id == team, AppreciationRecipient.giver_id == user_id)
            .values(giver_id=ghost)
        )
        queries.replace_giver_in_all_time(session, workspace, user_id, ghost)
        run(delete(DailyGiving).where(DailyGiving.team_id == team, DailyGiving.giver_id == user_id))
        run(
            delete(AppreciationRecipient).where(
                AppreciationRecipient.team_id == team, AppreciationRecipient.user_id == user_id
            )
        )
        queries.recount_all_time(session, workspace, [user_id])
        queries.recount_recap_tallies(session, workspace, [user_id, ghost])
        # The insights tallies named them: worked out again from the history just changed.
        insight_tallies.invalidate(session, workspace)
        run(
            update(Ask)
            .where(Ask.team_id == team, Ask.asker_id == user_id)
            .values(asker_id=ghost, request=REMOVED)
        )
        run(
            update(Ask)
            .where(Ask.team_id == team, Ask.helper_id == user_id)
            .values(helper_id=ghost, decline_reason=None)
        )
        if asked:
            run(
                update(Obstacle)
                .where(Obstacle.team_id == team, Obstacle.ask_id.in_(asked))
                .values(description=REMOVED)
            )
        run(delete(BuyInGoal).where(BuyInGoal.team_id == team, BuyInGoal.user_id == user_id))
        run(delete(TeamMember).where(TeamMember.team_id == team, TeamMember.user_id == user_id))
        run(
            update(BuyInGoal)
            .where(BuyInGoal.team_id == team, BuyInGoal.target_user_id == user_id)
            .values(target_user_id=ghost)
        )
        # What they asked with /listen or answered: the words are theirs and the other
        # person's alone, so the whole exchange goes.
        if listened:
            run(delete(Listen).where(Listen.team_id == team, Listen.id.in_(listened)))
        run(
            delete(ReactionThanks).where(
                ReactionThanks.team_id == team,
                (ReactionThanks.giver_id == user_id) | (ReactionThanks.author_id == user_id),
            )
        )
        run(
            delete(CheckinNudge).where(
                CheckinNudge.team_id == team,
                (CheckinNudge.user_id == user_id) | (CheckinNudge.target_user_id == user_id),
            )
        )
        run(
            update(SettingsChange)
            .where(SettingsChange.team_id == team, SettingsChange.user_id == user_id)
            .values(user_id=ghost)
        )
        for change in session.scalars(
            select(SettingsChange).where(
                SettingsChange.team_id == team, cast(SettingsChange.changes, Text).contains(user_id)
            )
        ):
            change.changes = _replaced(change.changes, user_id, ghost)
            counts["settings_changes"] += 1
        run(delete(Person).where(Person.team_id == team, Person.user_id == user_id))
        # Signed in to the web pages: signed out.
        run(delete(WebSession).where(WebSession.team_id == team, WebSession.user_id == user_id))
        # The person who installed the app (OAuth mode) is recorded with the installation.
        run(
            update(slack_installations)
            .where(slack_installations.c.team_id == team, slack_installations.c.user_id == user_id)
            .values(user_id=ghost)
        )
        mention = re.compile(rf"<@{re.escape(user_id)}(\|[^>]*)?>")
        for model, column in (
            (Appreciation, "reason"),
            (Ask, "request"),
            (Ask, "decline_reason"),
            (Obstacle, "description"),
        ):
            text_column = getattr(model, column)
            for row in session.scalars(
                select(model).where(model.team_id == team, text_column.contains(f"<@{user_id}"))
            ):
                setattr(row, column, mention.sub("someone", getattr(row, column)))
                counts[model.__tablename__] += 1
        setting = session.scalar(select(WorkspaceSetting).where(WorkspaceSetting.team_id == team))
        if setting and user_id in (setting.overrides.get("admins") or []):
            overrides = dict(setting.overrides)
            overrides["admins"] = [a for a in overrides["admins"] if a != user_id]
            setting.overrides = overrides
            counts["workspace_settings"] += 1
        if setting and setting.updated_by == user_id:
            setting.updated_by = ghost
            counts["workspace_settings"] += 1
    db.reclaim_erased()
    return {table: n for table, n in counts.items() if n}


def ghost_of(workspace: Workspace, user_id: str) -> str:
    """The id that stands for a forgotten person: the same each time, never their own."""
    digest = hashlib.sha256(f"{workspace.team_id}:{user_id}".encode()).hexdigest()
    return GHOST_PREFIX + digest[:10].upper()


def _replaced(value: Any, old: str, new: str) -> Any:
    """`value` (JSON) with every `old` in its strings replaced by `new`."""
    return json.loads(json.dumps(value).replace(old, new))


def _forget_messages(
    session: Session,
    workspace: Workspace,
    user_id: str,
    ghost: str,
    appreciations: list[int],
    asks: list[int],
    listens: list[int],
    run: Callable[[Any], None],
    now: datetime,
) -> None:
    """Messages that carry the person's words or ID: not sent yet, they never will be; sent
    (or failed), they keep only their key, with the person's ID in it replaced, so that
    nothing is sent twice. Requests still stored with their ID go too."""
    team = workspace.team_id
    about = [
        OutboxMessage.user_id == user_id,
        OutboxMessage.channel_id == user_id,
        OutboxMessage.dedupe_key.contains(user_id),
        cast(OutboxMessage.payload, Text).contains(user_id),
    ]
    if appreciations:
        about.append(OutboxMessage.appreciation_id.in_(appreciations))
        about += [OutboxMessage.dedupe_key.startswith(f"appreciation:{a}:") for a in appreciations]
    about += [OutboxMessage.dedupe_key.startswith(f"ask:{a}:") for a in asks]
    # The ending of a step's run that posted one of their asks: a decline's reason.
    if asks:
        about += [
            OutboxMessage.dedupe_key == key
            for key in session.scalars(
                select(Ask.source_key).where(
                    Ask.team_id == team, Ask.id.in_(asks), Ask.source_key.startswith("step:")
                )
            )
        ]
    about += [OutboxMessage.dedupe_key.startswith(f"listen:{n}:") for n in listens]
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.dedupe_key).where(
            OutboxMessage.team_id == team, or_(*about)
        )
    ).all()
    unsent = [row.id for row in rows if row.status == "pending"]
    if unsent:
        run(delete(OutboxMessage).where(OutboxMessage.id.in_(unsent)))
        # A step's run whose ending is gone will never end here: its token goes too.
        steps.forgotten(
            session,
            workspace,
            [row.dedupe_key for row in rows if row.status == "pending"],
            now,
        )
    for row in rows:
        if row.status == "pending":
            continue
        run(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(
                dedupe_key=row.dedupe_key.replace(user_id, ghost),
                channel_id=func.replace(OutboxMessage.channel_id, user_id, ghost),
                sent_channel_id=func.replace(OutboxMessage.sent_channel_id, user_id, ghost),
                **erased_body(now),
            )
        )
    run(
        delete(SlackRequest).where(
            (SlackRequest.team_id == team) | SlackRequest.team_id.is_(None),
            SlackRequest.body.contains(user_id),
        )
    )
