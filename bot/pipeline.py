"""The one path every request from Slack takes, over HTTP and Socket Mode, in tests and in
production:

    Slack ─► verify ─► persist ─────────► acknowledge        ┊ claim ─► run ─────► done
             the       one row per         the ack's own     ┊ a worker  the         marked
             signature delivery, keyed     body: empty, a    ┊ takes the listener,   done; a
             (HTTP) or by Slack's own id:  view's field      ┊ row for a through     failure is
             the       a retry finds the   errors, or "I     ┊ lease     Bolt        retried,
             socket    row and writes      couldn't record   ┊ (fast                 then parked
                       nothing             that"             ┊ lane first)           and told

Left of the dotted line runs on the request's thread (`Pipeline.receive`), right of it on
workers (`Workers`), in this process or another (`advocate worker`), reading the database
only: nothing acknowledged exists only in memory, so whichever process dies, what Slack
was told is recorded gets done. A claim whose worker died is taken over when its lease
ends (at once, when the worker was on this machine). Running a request twice does no harm:
its effects are keyed (an appreciation by its trigger, every message by its outbox key).

What is answered at once and never stored: URL verification, SSL checks, options for
menus. A view submission is checked by its form on the request's thread, so that field
errors go back with the answer (and nothing is stored); a clean submission is stored with
the values its check accepted, which a worker applies (bot/listeners/forms.py). A
request that opens a modal (`fast`) is claimed before any other and by workers of its
own; when it waited so long that its trigger has expired, the person is told to try again
instead.

Each step is counted (bot/metrics.py: at the ack, each attempt, database errors survived),
and every line logged while a request is answered or worked carries its workspace, kind
and id (bot/logs.py), so its ack and its work can be found together.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy import BindParameter, Row, Select, Table, bindparam, delete, or_, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import holders, metrics, replies
from bot.clock import system_clock
from bot.doorbell import Doorbell, Rung
from bot.listeners import MODAL_ACTIONS
from bot.listeners.errors import APOLOGY, failure_of, reply_to_person
from bot.listeners.forms import ACCEPTED
from bot.logs import about_request
from bot.runtime import Runtime
from bot.services import steps
from bot.store.db import Database
from bot.store.models import SlackRequest
from bot.store.queries import insert_for

log = logging.getLogger(__name__)

SORRY = "I couldn't record that just now; please try again."
TOO_LATE = "Sorry, that took me too long to open. Please try again."
# A worker that stops renewing its claim (it died) loses it after this long.
LEASE = timedelta(seconds=60)
RENEW_EVERY_SECONDS = 20.0
# A request claimed this many times without succeeding (it failed, or its worker died or
# hung) is parked with its error, and the person told once.
MAX_ATTEMPTS = 8
# The wait before a failed request's next attempt, doubled each time up to a minute (1, 2,
# 4 ... 32, 60 s): the attempts span two minutes of Slack not answering.
BACKOFF = timedelta(seconds=1)
MAX_BACKOFF = timedelta(seconds=60)
# Slack's trigger_id lives 3 seconds; past this a modal would not open.
TRIGGER_SECONDS = 2.5
# How often idle workers look for requests stored by another process.
POLL_SECONDS = 0.05
# ... and when their server rings them for what it stores (bot/doorbell.py): the look is
# then only for what other processes stored, and for a ring that was lost.
POLL_WITH_DOORBELL_SECONDS = 0.5
# An idle worker is woken when there is work; it also looks by itself this often.
IDLE_SECONDS = 5.0
# Done requests are kept this long: the window in which Slack retries a delivery.
KEEP_DONE = timedelta(days=1)
# Requests one worker process runs at once, and a couple more that take only those that
# open a modal.
WORKERS = 16
FAST_WORKERS = 2


@dataclass(frozen=True)
class Delivery:
    """A request worth storing: its kind, Slack's identity of it, and its lane."""

    kind: str  # command | shortcut | action | view | event
    key: str
    team_id: str | None
    fast: bool


def identify(payload: Any) -> Delivery | None:
    """What Slack sent, or None for what is answered at once and never stored."""
    if not isinstance(payload, dict):
        return None
    team_id = _team_of(payload)
    kind, key, fast = _classify(payload)
    if kind is None:
        return None
    if len(key) > 191 or not key.isprintable():
        key = f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return Delivery(kind, key, team_id, fast)


def _classify(payload: dict[str, Any]) -> tuple[str | None, str, bool]:
    kind = payload.get("type")
    if kind == "event_callback":
        return "event", f"event:{payload.get('event_id')}", False
    if "command" in payload:
        opens_modal = not str(payload.get("text") or "").strip()
        return "command", f"command:{payload.get('trigger_id')}", opens_modal
    if kind in ("shortcut", "message_action"):
        return "shortcut", f"shortcut:{payload.get('trigger_id')}", True
    if kind == "block_actions":
        actions = payload.get("actions") or [{}]
        first = actions[0] if isinstance(actions, list) and isinstance(actions[0], dict) else {}
        container = payload.get("container")
        container = container if isinstance(container, dict) else {}
        where = container.get("message_ts") or container.get("view_id") or ""
        key = f"action:{where}:{first.get('action_id')}:{first.get('action_ts')}"
        return "action", key, first.get("action_id") in MODAL_ACTIONS
    if kind == "view_submission":
        view = payload.get("view")
        view = view if isinstance(view, dict) else {}
        return "view", f"view:{view.get('id')}:{view.get('hash')}", False
    return None, "", False


def what_is_missing(payload: dict[str, Any], kind: str) -> str | None:
    """What a request of `kind` lacks that Slack always sends, or None when it has it all.
    A signed body without it is not a Slack request: refused (400), stored nowhere."""

    def text(value: Any) -> bool:
        return isinstance(value, str) and bool(value) and value.isprintable()

    def user_of(value: Any) -> Any:
        return value.get("id") if isinstance(value, dict) else None

    enterprise = payload.get("enterprise_id") or user_of(payload.get("enterprise"))
    if not _team_of(payload) and not text(enterprise):
        return "a team"
    if kind == "event":
        event = payload.get("event")
        if not text(payload.get("event_id")):
            return "an event id"
        if not isinstance(event, dict) or not text(event.get("type")):
            return "an event"
        return None
    if kind == "command":
        if not text(payload.get("user_id")) or not text(payload.get("trigger_id")):
            return "a user and a trigger id"
        return None
    if not text(user_of(payload.get("user"))):
        return "a user"
    if kind == "shortcut":
        return None if text(payload.get("trigger_id")) else "a trigger id"
    if kind == "action":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            return "actions"
        return None
    view = payload.get("view")
    if not isinstance(view, dict) or not text(view.get("id")):
        return "a view"
    return None


def _team_of(payload: dict[str, Any]) -> str | None:
    team = payload.get("team_id") or payload.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    # Stored as text: PostgreSQL refuses a NUL, and no Slack id holds one.
    return team if isinstance(team, str) and len(team) <= 32 and team.isprintable() else None


class Pipeline:
    """The request's thread: verify (done by the caller), persist, acknowledge."""

    def __init__(
        self,
        db: Database,
        answers: App,
        stored: Callable[[bool], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = system_clock
        # The Bolt app that answers what is answered at once, and checks view submissions
        # (bot/listeners/forms.py).
        self.answers = answers
        # Called after a new request is stored, with whether it opens a modal: wakes
        # workers in this process.
        self.stored = stored

    def receive(self, request: BoltRequest) -> BoltResponse:
        """Answer one verified request from Slack (HTTP or Socket Mode)."""
        started = time.perf_counter()
        delivery = identify(request.body)
        if delivery is None:
            return self.answers.dispatch(request)
        missing = what_is_missing(request.body, delivery.kind)
        if missing is not None:
            log.warning("a signed %s without %s: refused, not stored", delivery.kind, missing)
            metrics.acknowledged(delivery.kind, "refused", time.perf_counter() - started)
            return BoltResponse(
                status=400,
                body=json.dumps({"error": f"not a Slack request: no {missing}"}),
                headers={"content-type": "application/json"},
            )
        with about_request(delivery.key, delivery.team_id, delivery.kind):
            outcome, answer = self._store_and_answer(request, delivery)
        metrics.acknowledged(delivery.kind, outcome, time.perf_counter() - started)
        return answer

    def _store_and_answer(
        self, request: BoltRequest, delivery: Delivery
    ) -> tuple[str, BoltResponse]:
        """The answer, and what became of the request (see metrics.RECEIVED)."""
        answer = BoltResponse(status=200, body="")
        if delivery.kind == "view":
            answer = self.answers.dispatch(request)
            if answer.status != 200 or request.context.get(ACCEPTED) is None:
                return "answered", answer
        try:
            new = self._persist_once_again_if_disconnected(request, delivery)
        except SQLAlchemyError as error:
            metrics.database_error("store")
            log.error("could not store a %s (%s): %s", delivery.kind, delivery.key, error)
            return "refused", _sorry(delivery, request.body)
        if not new:
            log.info("%s is stored already; acknowledging the repeat", delivery.key)
            return "duplicate", answer
        log.debug("stored %s; acknowledging it", delivery.key)
        if self.stored is not None:
            self.stored(delivery.fast)
        return "stored", answer

    def _persist_once_again_if_disconnected(self, request: BoltRequest, delivery: Delivery) -> bool:
        """`_persist`, tried again on a fresh connection when the one it got was dead (the
        database restarted): the pool is not pinged before each use, which would cost every
        transaction a round trip, so the first use after a restart finds out."""
        try:
            return self._persist(request, delivery)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("the database connection was lost; storing %s again", delivery.key)
            return self._persist(request, delivery)

    def _persist(self, request: BoltRequest, delivery: Delivery) -> bool:
        now = self.clock()
        socket_mode = request.mode == "socket_mode"
        # A step's run keeps its token apart, only while it is open (bot/services/steps.py).
        body, step = steps.capture(request.body, delivery.team_id, now)
        row = {
            "key": delivery.key,
            "team_id": delivery.team_id,
            "kind": delivery.kind,
            "mode": "socket" if socket_mode else "http",
            "body": json.dumps(body) if socket_mode or step else request.raw_body,
            "headers": {} if socket_mode else {k: list(v) for k, v in request.headers.items()},
            "accepted": request.context.get(ACCEPTED),
            "fast": delivery.fast,
            "status": "pending",
            "attempts": 0,
            "replies": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "claimed_by": None,
            "received_at": now,
            "done_at": None,
            "last_error": None,
        }
        # One statement, unless a step's token is kept with it.
        with self.db.alone() if step is None else self.db.begin() as connection:
            if step is not None:
                steps.keep(connection, step)
            return connection.scalar(_store(connection.dialect.name), row) is not None


# A claimed request: its row as the claim returned it.
Claimed = Row[Any]


@cache
def _store(dialect: str) -> Any:
    """The INSERT of a request that returns its id, or nothing when its key is stored
    already (Slack's retry of a delivery): built once for each database."""
    table: Table = SlackRequest.__table__  # type: ignore[assignment]
    insert = insert_for(dialect, table)
    return insert.on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)


def _sorry(delivery: Delivery, payload: dict[str, Any]) -> BoltResponse:
    """The honest answer when the request could not be stored: said in the ack itself where
    Slack shows it (a command's reply, a form's field), else a failure Slack retries or
    shows (events are redelivered; a button shows that it failed)."""
    if delivery.kind == "command":
        body = json.dumps({"response_type": "ephemeral", "text": SORRY})
        return BoltResponse(status=200, body=body, headers={"content-type": "application/json"})
    if delivery.kind == "view":
        blocks = (payload.get("view") or {}).get("blocks") or []
        inputs = [
            b.get("block_id") for b in blocks if b.get("type") == "input" and b.get("block_id")
        ]
        if inputs:
            errors = {"response_action": "errors", "errors": {inputs[0]: SORRY}}
            return BoltResponse(
                status=200, body=json.dumps(errors), headers={"content-type": "application/json"}
            )
    return BoltResponse(status=503, body="")


def _due(fast_only: bool) -> Select[int]:
    """Requests due at `:now`, not held by a live claim; modals first."""
    now: BindParameter[datetime] = bindparam("now")
    query = select(SlackRequest.id).where(
        SlackRequest.status == "pending",
        SlackRequest.next_attempt_at <= now,
        or_(SlackRequest.claimed_until.is_(None), SlackRequest.claimed_until < now),
    )
    if fast_only:
        query = query.where(SlackRequest.fast.is_(True))
    return query.order_by(SlackRequest.fast.desc(), SlackRequest.id)


# Built once: the workers look and claim many times a second. Rows another worker is
# claiming right now are skipped, not waited for (PostgreSQL); SQLite has one writer at a
# time, so its claims simply take turns.
_FIRST_DUE = {
    lane: _due(lane).with_only_columns(SlackRequest.fast).limit(1) for lane in (False, True)
}
_CLAIM = {
    lane: update(SlackRequest)
    .where(SlackRequest.id.in_(_due(lane).limit(1).with_for_update(skip_locked=True)))
    .values(
        claimed_until=bindparam("until"),
        claimed_by=bindparam("me"),
        attempts=SlackRequest.attempts + 1,
    )
    .returning(*SlackRequest.__table__.columns)
    for lane in (False, True)
}


# Built once: every request ends with one. What Slack sent is kept only for a request
# that did not get done (parked), to look into.
_FINISH = {
    done: update(SlackRequest)
    .where(SlackRequest.id == bindparam("request"))
    .values(
        status=bindparam("status"),
        done_at=bindparam("at"),
        claimed_until=None,
        last_error=bindparam("error"),
        **({"body": "", "headers": {}, "accepted": None} if done else {}),
    )
    .execution_options(synchronize_session=False)
    for done in (False, True)
}


class Workers:
    """Claim stored requests and run them through `app`, the Bolt app whose listeners do
    the work (their ack is a no-op there), on `threads` threads, and `fast_threads` more
    that take only requests that open a modal."""

    def __init__(
        self,
        runtime: Runtime,
        app: App,
        *,
        threads: int = WORKERS,
        fast_threads: int = FAST_WORKERS,
        backoff: timedelta = BACKOFF,
        doorbell: str | None = None,
    ) -> None:
        self.db = runtime.db
        # Leases, retries and a trigger's age are real time, whatever the app's clock says.
        self.clock = system_clock
        self.clients = runtime.clients
        self.sender = runtime.sender
        self.app = app
        self.backoff = backoff
        # This process's name (bot/holders.py), and a part of this pool's own: the claims
        # it renews and hands back are its own, whichever other pools the process runs.
        self.me = f"{holders.me()}.{secrets.token_hex(2)}"
        self._threads = [
            threading.Thread(target=self._work, args=(False,), name=f"work-{n}", daemon=True)
            for n in range(threads)
        ] + [
            threading.Thread(target=self._work, args=(True,), name=f"fast-{n}", daemon=True)
            for n in range(fast_threads)
        ]
        self._lookout = threading.Thread(target=self._look_out, name="lookout", daemon=True)
        # Where the server of `advocate run` rings when it stored a request (bot/worker.py).
        self._doorbell = doorbell
        # Idle workers wait here, each lane on its own: one is woken per request stored, and
        # a worker that found one wakes the next, so a burst fans out and an idle pool does
        # not compete for every single request.
        self._lanes = {False: threading.Condition(), True: threading.Condition()}
        self._idle = {False: 0, True: 0}  # workers waiting in each lane
        self._stopping = threading.Event()
        self._started = False
        # The rows this process's threads are running now: the only claims it renews.
        self._in_hand: set[int] = set()
        self._in_hand_lock = threading.Lock()

    def start(self) -> Workers:
        self._take_back_from_the_dead()
        self.sender.take_back_from_the_dead()
        for thread in [*self._threads, self._lookout]:
            thread.start()
        self._started = True
        return self

    def wake(self, fast: bool = False) -> None:
        """A request was stored here: no need to wait for the next look."""
        self._wake_one(False)
        if fast:
            self._wake_one(True)

    def _wake_one(self, fast_lane: bool) -> None:
        lane = self._lanes[fast_lane]
        with lane:
            lane.notify()

    def stop(self) -> None:
        """Finish the requests in hand and stop; what is still stored waits for the next
        worker (this one on its next start, or another)."""
        self._stopping.set()
        for lane in self._lanes.values():
            with lane:
                lane.notify_all()
        if self._started:
            for thread in [*self._threads, self._lookout]:
                thread.join()
        self._release_mine()

    # ---------------------------------------------------------------- claiming

    def _work(self, fast_only: bool) -> None:
        while not self._stopping.is_set():
            try:
                row = self._claim(fast_only)
            except SQLAlchemyError as error:
                metrics.database_error("claim")
                log.warning("could not claim a request: %s", error)
                row = None
            lane = self._lanes[fast_only]
            if row is None:
                with lane:
                    if not self._stopping.is_set():
                        self._idle[fast_only] += 1
                        lane.wait(IDLE_SECONDS)
                        self._idle[fast_only] -= 1
                continue
            self._wake_one(fast_only)  # there may be more
            with self._in_hand_lock:
                self._in_hand.add(row.id)
            try:
                with about_request(row.key, row.team_id, row.kind):
                    self._run(row)
            except SQLAlchemyError as error:
                metrics.database_error("record")
                # Its effects are keyed, so running it again is safe: it is left to its
                # lease, which is no longer renewed, and claimed again when that ends.
                log.warning("could not record how %s went; it will run again: %s", row.key, error)
            finally:
                with self._in_hand_lock:
                    self._in_hand.discard(row.id)

    def _look_out(self) -> None:
        """Wake the workers when another process stored something (at once when it rang
        the doorbell); renew our claims."""
        renewed = self.clock()
        with contextlib.ExitStack() as stack:
            bell = stack.enter_context(Doorbell.listen(self._doorbell)) if self._doorbell else None
            while not self._stopping.is_set():
                try:
                    rung: Rung | bool | None = (
                        bell.wait(POLL_WITH_DOORBELL_SECONDS)
                        if bell is not None
                        else self._stopping.wait(POLL_SECONDS)
                    )
                    if isinstance(rung, Rung):
                        self.wake(fast=rung.fast)
                    else:
                        due = self._anything_due()
                        if due is not None:
                            self.wake(fast=due)
                    if (self.clock() - renewed).total_seconds() >= RENEW_EVERY_SECONDS:
                        renewed = self.clock()
                        self._renew()
                except SQLAlchemyError as error:
                    metrics.database_error("look")
                    log.warning("could not look for requests: %s", error)

    def _anything_due(self) -> bool | None:
        """None when nothing is due for an idle worker; else whether the first due request
        opens a modal. Busy workers claim the next request by themselves."""
        if self._idle[False]:
            query = _FIRST_DUE[False]
        elif self._idle[True]:
            query = _FIRST_DUE[True]
        else:
            return None
        with self.db.alone() as connection:
            return connection.scalar(query, {"now": self.clock()})

    def _claim(self, fast_only: bool) -> Claimed | None:
        now = self.clock()
        params = {"now": now, "until": now + LEASE, "me": self.me}
        # Lost in a power cut, the claim is only made again (bot/store/db.py).
        with self.db.alone(durable=False) as connection:
            return connection.execute(_CLAIM[fast_only], params).first()

    def _renew(self) -> None:
        now = self.clock()
        with self._in_hand_lock:
            in_hand = sorted(self._in_hand)
        if not in_hand:
            return
        with self.db.transaction() as session:
            session.execute(
                update(SlackRequest)
                .where(
                    SlackRequest.id.in_(in_hand),
                    SlackRequest.claimed_by == self.me,
                    SlackRequest.status == "pending",
                    SlackRequest.claimed_until > now,
                )
                .values(claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )

    def _take_back_from_the_dead(self) -> None:
        """Claims held by workers of this machine that are gone are free at once."""
        with self.db.transaction() as session:
            dead = holders.dead_here(
                session.scalars(
                    select(SlackRequest.claimed_by).where(
                        SlackRequest.status == "pending",
                        SlackRequest.claimed_by.like(f"{holders.here()}%"),
                    )
                )
            )
            if dead:
                session.execute(
                    update(SlackRequest)
                    .where(SlackRequest.status == "pending", SlackRequest.claimed_by.in_(dead))
                    .values(claimed_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
                log.info("took back requests claimed by workers that died: %s", dead)

    def _release_mine(self) -> None:
        try:
            with self.db.transaction() as session:
                session.execute(
                    update(SlackRequest)
                    .where(SlackRequest.claimed_by == self.me, SlackRequest.status == "pending")
                    .values(claimed_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            metrics.database_error("release")
            log.warning("could not hand back claimed requests; their leases will end")

    # ---------------------------------------------------------------- running

    def _run(self, row: Claimed) -> None:
        started = time.perf_counter()
        outcome = self._attempt(row)
        seconds = time.perf_counter() - started
        metrics.worked(row.kind, outcome, seconds)
        log.debug("%s: %s in %.3f s", row.key, outcome, seconds)

    def _attempt(self, row: Claimed) -> str:
        """Run the request once and record how it went (see metrics.WORKED)."""
        request = _bolt_request(row)
        if row.attempts > MAX_ATTEMPTS:
            # Claimed again and again without ever returning: its worker died or hung each
            # time. It is not run again; the person is told once.
            log.error("%s was claimed %s times without an outcome; parked", row.key, row.attempts)
            self._tell(row, request, APOLOGY)
            self._finish(row, "parked", f"no outcome after {MAX_ATTEMPTS} attempts")
            return "parked"
        if row.fast and (self.clock() - row.received_at).total_seconds() > TRIGGER_SECONDS:
            log.warning("%s waited too long to open its modal; telling the person", row.key)
            self._tell(row, request, TOO_LATE)
            self._finish(row, "done", "trigger expired")
            return "expired"
        with failure_of() as failed, replies.counted(self.db, row.id, row.replies):
            try:
                self.app.dispatch(request)
            except Exception as bolt_error:  # Bolt's own failure, not a listener's
                failed.append(bolt_error)
        if not failed:
            self._finish(row, "done", None)
            return "done"
        reason = f"{type(failed[0]).__name__}: {failed[0]}"[:255]
        if row.attempts >= MAX_ATTEMPTS:
            log.error("%s failed %s times; parked: %s", row.key, row.attempts, reason)
            self._tell(row, request, APOLOGY)
            self._finish(row, "parked", reason)
            return "parked"
        delay = min(self.backoff * 2 ** (row.attempts - 1), MAX_BACKOFF)
        log.warning(
            "%s failed (attempt %s), retrying in %s: %s", row.key, row.attempts, delay, reason
        )
        self._retry(row, delay, reason)
        return "failed"

    def _tell(self, row: Claimed, request: BoltRequest, text: str) -> None:
        """Say `text` to the person who sent the request, with their workspace's token."""
        try:
            client = self.clients.client_for(row.team_id or "", request.context.enterprise_id)
            reply_to_person(client, request.body, text)
        except Exception:
            log.exception("could not tell the person who sent %s", row.key)

    def _finish(self, row: Claimed, status: str, error: str | None) -> None:
        # Done, lost in a power cut, it runs again and finds its effects by their keys and
        # its replies counted; what is said when parking or expiring is not counted.
        with self.db.alone(durable=status != "done" or error is not None) as connection:
            connection.execute(
                _FINISH[status == "done"],
                {"request": row.id, "status": status, "at": self.clock(), "error": error},
            )

    def _retry(self, row: Claimed, delay: timedelta, error: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(SlackRequest)
                .where(SlackRequest.id == row.id)
                .values(
                    claimed_until=None,
                    claimed_by=None,
                    next_attempt_at=self.clock() + delay,
                    last_error=error,
                )
                .execution_options(synchronize_session=False)
            )


def purge_done(db: Database, now: datetime) -> int:
    """Forget requests done (or parked) more than a day ago: Slack retries within minutes."""
    with db.transaction() as session:
        result = session.execute(delete(SlackRequest).where(SlackRequest.done_at < now - KEEP_DONE))
        return int(getattr(result, "rowcount", 0) or 0)


def _bolt_request(row: Claimed) -> BoltRequest:
    context = {ACCEPTED: row.accepted} if row.accepted is not None else None
    if row.mode == "socket":
        return BoltRequest(body=json.loads(row.body), mode="socket_mode", context=context)
    return BoltRequest(body=row.body, headers=dict(row.headers), context=context)
