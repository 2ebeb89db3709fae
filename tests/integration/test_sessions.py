"""Sign-in states and web sessions in the database (bot/services/sessions.py), on SQLite and
PostgreSQL: a state is taken once, whatever the timing; what has expired is refused and
deleted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.domain import Workspace
from bot.services import lifecycle, sessions
from bot.store.db import Database
from bot.store.models import SigninState, WebSession

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ALPHA, BETA = Workspace("T701"), Workspace("T702")


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_state_is_taken_once_with_its_nonce(db: Database) -> None:
    started = sessions.start(db, "/insights?period=year", NOW)

    taken = sessions.take(db, started.state, NOW + timedelta(minutes=9))

    assert taken == sessions.Taken(started.nonce, "/insights?period=year")
    assert sessions.take(db, started.state, NOW + timedelta(minutes=9)) is None
    assert sessions.take(db, "made-up", NOW) is None


def test_an_expired_state_is_refused_and_deleted(db: Database) -> None:
    started = sessions.start(db, "/insights", NOW)

    assert sessions.take(db, started.state, NOW + sessions.STATE_LIFETIME) is None
    assert count(db, SigninState) == 0


def test_a_state_taken_by_many_at_once_is_taken_by_one(db: Database) -> None:
    started = sessions.start(db, "/insights", NOW)
    barrier = threading.Barrier(6)
    results: list[object] = []

    def take() -> None:
        barrier.wait()
        try:
            results.append(sessions.take(db, started.state, NOW))
        except Exception as error:  # a writer that lost the race may fail: it got nothing
            results.append(error)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(isinstance(r, sessions.Taken) for r in results) == 1


def test_a_session_is_found_by_its_id_until_it_expires(db: Database) -> None:
    session_id = sessions.open_session(db, ALPHA, "U1", NOW)

    found = sessions.find(db, session_id, NOW + timedelta(hours=11))
    assert found is not None and (found.team_id, found.user_id) == ("T701", "U1")
    assert sessions.find(db, session_id + "x", NOW) is None
    # The table holds no session id, only its digest.
    with db.transaction() as session:
        assert session_id not in set(session.scalars(select(WebSession.id_sha256)))

    assert sessions.find(db, session_id, NOW + sessions.SESSION_LIFETIME) is None
    assert count(db, WebSession) == 0


def test_expired_states_and_sessions_are_purged_others_kept(db: Database) -> None:
    sessions.start(db, "/insights", NOW - timedelta(hours=1))
    sessions.open_session(db, ALPHA, "U1", NOW - timedelta(hours=13))
    kept = sessions.open_session(db, ALPHA, "U2", NOW)
    sessions.start(db, "/insights", NOW)

    sessions.purge_expired(db, NOW)

    assert count(db, SigninState) == 1 and count(db, WebSession) == 1
    assert sessions.find(db, kept, NOW) is not None


def test_uninstall_and_forget_end_sessions_of_their_workspace_only(db: Database) -> None:
    alpha_one = sessions.open_session(db, ALPHA, "U1", NOW)
    alpha_two = sessions.open_session(db, ALPHA, "U2", NOW)
    beta_one = sessions.open_session(db, BETA, "U1", NOW)

    lifecycle.forget(db, ALPHA, "U1", NOW)
    assert sessions.find(db, alpha_one, NOW) is None
    assert sessions.find(db, alpha_two, NOW) is not None
    assert sessions.find(db, beta_one, NOW) is not None

    lifecycle.uninstalled(db, ALPHA, NOW)
    assert sessions.find(db, alpha_two, NOW) is None
    assert sessions.find(db, beta_one, NOW) is not None
