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

from sqlalchemy import Connection, Table, bindparam, select, update

from bot.domain import Workspace
from bot.services import outbox
from bot.store.db import Database
from bot.store.models import OutboxMessage, StepExecution
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
    execution_id = event.get("function_execution_id")
    function = event.get("function")
    callback_id = function.get("callback_id") if isinstance(function, dict) else None
    if not team_id or not isinstance(execution_id, str) or not isinstance(callback_id, str):
        return payload, None
    stripped = copy.deepcopy(payload)
    token = stripped["event"].pop("bot_access_token", None)
    enterprise = payload.get("enterprise_id")
    row = {
        "team_id": team_id,
        "enterprise_id": enterprise if isinstance(enterprise, str) else None,
        "execution_id": execution_id[:64],
        "callback_id": callback_id[:64],
        "token": token if isinstance(token, str) else None,
        "status": "open",
        "ask_id": None,
        "complete_when": None,
        "created_at": now,
        "closed_at": None,
    }
    return stripped, row


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
    """The one outbox key of a run's ending: completed or failed, never both, never twice."""
    return f"step:{execution_id}"


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
