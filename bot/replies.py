"""What a request says back to its person (a `respond()`, an ephemeral, a DM through
`tell`) is said once, even when the request runs again.

A stored request can run more than once: its worker died, or it failed after saying
something. Its replies are counted in order; the request's row records how many were said
(`slack_requests.replies`), each before its call is made, so a run after a crash skips
those. A call that fails is uncounted again and said by the next attempt; a process that
dies in the middle of one does not say it twice, since Slack cannot be asked whether it
arrived, and what the reply confirms (a post, a saved form) is there to see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import bindparam, update

from bot.store.db import Database
from bot.store.models import SlackRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

_current = threading.local()


class _Count:
    def __init__(self, db: Database, request_id: int, said: int) -> None:
        self.db = db
        self.request_id = request_id
        self.said = said
        self.next = 0

    def record(self, said: int) -> None:
        with self.db.alone() as connection:
            connection.execute(_RECORD, {"request": self.request_id, "said": said})


# Built once: every reply of a stored request runs it.
_RECORD = (
    update(SlackRequest)
    .where(SlackRequest.id == bindparam("request"))
    .values(replies=bindparam("said"))
    .execution_options(synchronize_session=False)
)


@contextmanager
def counted(db: Database, request_id: int, said: int) -> Iterator[None]:
    """Count the replies of the request this thread runs; `said`: how many an earlier run
    said."""
    _current.count = _Count(db, request_id, said)
    try:
        yield
    finally:
        _current.count = None


def once(send: Callable[[], T]) -> T | None:
    """Make the next reply of the running request, unless an earlier run made it."""
    count: _Count | None = getattr(_current, "count", None)
    if count is None:  # not a stored request (a tick, the CLI): nothing runs it again
        return send()
    ordinal = count.next
    count.next += 1
    if ordinal < count.said:
        log.info("reply %s of this request was made by an earlier run; not again", ordinal + 1)
        return None
    count.record(ordinal + 1)
    try:
        return send()
    except BaseException:
        count.record(ordinal)
        count.said = ordinal
        raise


class OnceRespond:
    """Bolt's `respond()`, each call made once across runs of the request."""

    def __init__(self, respond: Callable[..., Any]) -> None:
        self._respond = respond

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return once(lambda: self._respond(*args, **kwargs))
