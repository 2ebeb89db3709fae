"""Runs of the app's Workflow Builder steps, and how each one ends: once.

Slack starts a run with a `function_executed` event that carries the run's own token. The
pipeline stores the event without its token, and the token in `step_executions`, in one
transaction before the ack (`capture`). A run ends with one outbox message keyed by its
execution id (`result`): the completion with its outputs, or the failure with the words a
person would have read. The sender calls `functions.completeSuccess` or
`functions.completeError` with the run's token, and erases the token in the transaction
that marks the message sent (bot/slack/outbox.py).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.domain import Workspace
from bot.services import outbox
from bot.store.db import Database, insert_ignoring_conflicts
from bot.store.models import Ask, OutboxMessage, StepExecution
from bot.store.queries import insert_for

# The outbox kind of a run's ending; its channel_id is the run's execution id.
STEP_RESULT = "step_result"
# Slack's answers to a completion of a run that is completed already.
ALREADY_ENDED = frozenset({"function_execution_not_found", "execution_not_in_running_state"})
MAX_ERROR = 1000


def capture(payload: Any, team_id: str | None, now: datetime) -> tuple[Any, dict[str, Any] | None]:
    """A `function_executed` event without its token, and the row that keeps the token;
    anything else as it is, and None."""
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return payload, None
    event = payload.get("event")
    if not isinstance(event, dict) or event.get("type") != "function_executed":
        return payload, None
    stripped = copy.deepcopy(payload)
    token = _text(stripped["event"].pop("bot_access_token", None), 255)
    execution_id = _text(event.get("function_execution_id"), 64)
    function = event.get("function")
    callback_id = _text(function.get("callback_id") if isinstance(function, dict) else None, 64)
    if not team_id or execution_id is None or callback_id is None:
        return stripped, None
    row = {
        "team_id": team_id,
        "enterprise_id": _text(payload.get("enterprise_id"), 32),
        "execution_id": execution_id,
        "callback_id": callback_id,
        "token": token,
        "status": "open",
        "complete_when": None,
        "created_at": now,
        "closed_at": None,
    }
    return stripped, row


def _text(value: Any, limit: int) -> str | None:
    """`value` as Slack sends such ids and tokens, or None: stored as text, it must be
    short, and hold no NUL (PostgreSQL refuses one) nor anything unprintable."""
    if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable():
        return value
    return None


def keep(connection: Connection, row: dict[str, Any]) -> None:
    """Record a run once: a redelivery of its event (a new event id or the same) finds it
    recorded, and a run that has ended never gets its token back."""
    connection.execute(_keep(connection.dialect.name), row)


def _keep(dialect: str) -> Any:
    table: Table = StepExecution.__table__  # type: ignore[assignment]
    return insert_for(dialect, table).on_conflict_do_nothing(
        index_elements=["team_id", "execution_id"]
    )


def find(db: Database, workspace: Workspace, execution_id: str) -> StepExecution | None:
    with db.transaction() as session:
        return session.scalar(
            select(StepExecution).where(
                StepExecution.team_id == workspace.team_id,
                StepExecution.execution_id == execution_id,
            )
        )


def key_of(execution_id: str) -> str:
    """The one outbox key of a run's ending (completed or failed, never both, never
    twice), and the source key of what the run recorded (its appreciation, its ask)."""
    return f"{_KEY_PREFIX}{execution_id}"


def result(
    workspace: Workspace,
    execution_id: str,
    now: datetime,
    *,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> OutboxMessage:
    """The run's ending, to send: its outputs, or (with `error`) its failure."""
    payload: dict[str, Any] = (
        {"error": error[:MAX_ERROR]} if error is not None else {"outputs": outputs or {}}
    )
    message = outbox.channel_post(
        workspace, key=key_of(execution_id), channel_id=execution_id, message=payload, now=now
    )
    message.kind = STEP_RESULT
    return message


def token_of(db: Database, team_id: str, execution_id: str) -> str | None:
    with db.transaction() as session:
        return session.scalar(
            select(StepExecution.token).where(
                StepExecution.team_id == team_id, StepExecution.execution_id == execution_id
            )
        )


def ended(connection: Connection, message: OutboxMessage, now: datetime, *, sent: bool) -> None:
    """The run's ending is sent (or failed for good): its token is erased."""
    status = "failed" if not sent or "error" in (message.payload or {}) else "completed"
    connection.execute(
        _ENDED,
        {"team": message.team_id, "execution": message.channel_id, "ending": status, "at": now},
    )


_ENDED = (
    update(StepExecution)
    .where(
        StepExecution.team_id == bindparam("team"),
        StepExecution.execution_id == bindparam("execution"),
    )
    .values(token=None, status=bindparam("ending"), closed_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)


def expect(db: Database, workspace: Workspace, execution_id: str, complete_when: str) -> None:
    """Record when an "Ask for a commitment" run is complete: `committed` or `done`."""
    with db.transaction() as session:
        session.execute(
            update(StepExecution)
            .where(
                StepExecution.team_id == workspace.team_id,
                StepExecution.execution_id == execution_id,
            )
            .values(complete_when=complete_when)
            .execution_options(synchronize_session=False)
        )


def ask_changed(
    session: Session, workspace: Workspace, ask: Ask, event: str, changes: dict[str, Any]
) -> None:
    """In the transaction that changed an ask: when a step's run posted it and this change
    ends the run, its ending is recorded (once, by the run's key). A commitment completes
    a run waiting for one; marking it done completes any; a decline (its reason the error)
    and the asker's cancel fail it."""
    execution_id = ask.source_key.removeprefix(_KEY_PREFIX)
    if execution_id == ask.source_key:
        return  # not posted by a step
    complete_when = session.scalar(
        select(StepExecution.complete_when).where(
            StepExecution.team_id == workspace.team_id,
            StepExecution.execution_id == execution_id,
            StepExecution.status == "open",
        )
    )
    if complete_when is None:
        return
    now: datetime = changes["updated_at"]
    committed_on = changes.get("committed_on") or ask.committed_on
    outputs: dict[str, Any] = {"helper": ask.helper_id}
    if committed_on is not None:
        outputs["committed_by"] = committed_on.isoformat()
    if event == "commit" and complete_when == "committed":
        message = result(workspace, execution_id, now, outputs=outputs)
    elif event == "done":
        if committed_on is None:
            outputs["committed_by"] = now.astimezone(ZoneInfo(ask.timezone)).date().isoformat()
        message = result(workspace, execution_id, now, outputs=outputs)
    elif event == "decline":
        reason = (changes.get("decline_reason") or "").strip()
        message = result(
            workspace, execution_id, now, error=reason or f"<@{ask.helper_id}> declined the ask."
        )
    elif event == "cancel":
        message = result(
            workspace, execution_id, now, error=f"<@{ask.asker_id}> cancelled the ask."
        )
    else:
        return
    row = {c.key: getattr(message, c.key) for c in _OUTBOX_COLUMNS}
    insert_ignoring_conflicts(session, OutboxMessage, [row], ["team_id", "dedupe_key"])


_KEY_PREFIX = "step:"
_OUTBOX_COLUMNS = [c for c in OutboxMessage.__table__.columns if c.key != "id"]


def pending_ending(db: Database, workspace: Workspace, ask: Ask) -> list[int]:
    """The ending of the run that posted `ask`, when it waits to be sent."""
    if not ask.source_key.startswith(_KEY_PREFIX):
        return []
    with db.transaction() as session:
        found = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.team_id == workspace.team_id,
                OutboxMessage.dedupe_key == ask.source_key,
                OutboxMessage.status == "pending",
            )
        )
    return [found] if found is not None else []


def forgotten(session: Session, workspace: Workspace, keys: list[str], now: datetime) -> None:
    """Runs whose unsent endings were erased (`advocate forget`): they end here, and their
    tokens are erased."""
    executions = [key.removeprefix(_KEY_PREFIX) for key in keys if key.startswith(_KEY_PREFIX)]
    if not executions:
        return
    session.execute(
        update(StepExecution)
        .where(
            StepExecution.team_id == workspace.team_id,
            StepExecution.execution_id.in_(executions),
        )
        .values(token=None, status="failed", closed_at=now)
        .execution_options(synchronize_session=False)
    )


def uninstalled(session: Session, workspace: Workspace, now: datetime) -> None:
    """The app left the workspace: its open runs end here, and their tokens are erased."""
    session.execute(
        update(StepExecution)
        .where(StepExecution.team_id == workspace.team_id, StepExecution.status == "open")
        .values(token=None, status="failed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
