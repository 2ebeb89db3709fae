"""Sign-in states and web sessions: what bot/signin.py keeps in the database.

A state is taken once: the row is deleted in the transaction that reads it, and only the
transaction whose delete removed it gets its nonce, so a replayed or concurrent second use
finds nothing. A session is found by the SHA-256 of the id its cookie carries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.domain import Workspace
from bot.store.db import Database
from bot.store.models import SigninState, WebSession

STATE_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Started:
    state: str
    nonce: str


@dataclass(frozen=True)
class Taken:
    nonce: str
    return_to: str


@dataclass(frozen=True)
class OpenSession:
    team_id: str
    enterprise_id: str | None
    user_id: str
    expires_at: datetime


def start(db: Database, return_to: str, now: datetime) -> Started:
    """A new one-time state and its nonce, valid for `STATE_LIFETIME`."""
    started = Started(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    with db.transaction() as session:
        session.add(
            SigninState(
                state=started.state,
                nonce=started.nonce,
                return_to=return_to,
                created_at=now,
                expires_at=now + STATE_LIFETIME,
            )
        )
    return started


def take(db: Database, state: str, now: datetime) -> Taken | None:
    """The nonce and return path of `state`, once: None when it is unknown, expired or
    already taken. An expired state is deleted all the same."""
    with db.transaction() as session:
        row = session.execute(
            select(
                SigninState.id, SigninState.nonce, SigninState.return_to, SigninState.expires_at
            ).where(SigninState.state == state)
        ).first()
        if row is None:
            return None
        removed = session.execute(
            delete(SigninState)
            .where(SigninState.id == row.id)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(removed, "rowcount", 0) or 0) != 1 or row.expires_at <= now:
            return None
        return Taken(row.nonce, row.return_to)


def open_session(db: Database, workspace: Workspace, user_id: str, now: datetime) -> str:
    """A new session for the person; returns its id (what the cookie carries)."""
    session_id = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(
            WebSession(
                id_sha256=_digest(session_id),
                team_id=workspace.team_id,
                enterprise_id=workspace.enterprise_id,
                user_id=user_id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session_id


def find(db: Database, session_id: str, now: datetime) -> OpenSession | None:
    """The session of this id if it has not expired (an expired one is deleted)."""
    digest = _digest(session_id)
    with db.transaction() as session:
        row = session.execute(
            select(
                WebSession.team_id,
                WebSession.enterprise_id,
                WebSession.user_id,
                WebSession.expires_at,
            ).where(WebSession.id_sha256 == digest)
        ).first()
        if row is None:
            return None
        if row.expires_at <= now:
            session.execute(delete(WebSession).where(WebSession.id_sha256 == digest))
            return None
        return OpenSession(row.team_id, row.enterprise_id, row.user_id, row.expires_at)


def end(db: Database, session_id: str) -> None:
    with db.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.id_sha256 == _digest(session_id)))


def end_for_person(db: Database, workspace: Workspace, user_id: str) -> int:
    """End every session of one person (deactivated, forgotten); returns how many."""
    with db.transaction() as session:
        result = session.execute(
            delete(WebSession).where(
                WebSession.team_id == workspace.team_id, WebSession.user_id == user_id
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def end_for_workspace(db: Database, workspace: Workspace) -> int:
    """End every session of a workspace (the app was uninstalled); returns how many."""
    with db.transaction() as session:
        result = session.execute(delete(WebSession).where(WebSession.team_id == workspace.team_id))
        return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(db: Database, now: datetime) -> None:
    """Delete the states and sessions past their expiry."""
    with db.transaction() as session:
        session.execute(delete(SigninState).where(SigninState.expires_at <= now))
        session.execute(delete(WebSession).where(WebSession.expires_at <= now))


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
