"""The in-process scheduler: one job, on a short interval, that runs `tick`."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.jobs.tick import tick
from bot.runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15


class TimedTick:
    """The job: one tick, its failure logged (the next tick tries again), its duration and
    its lag measured (bot/metrics.py).

    The lag is how long after it was due a tick started. Ticks are due every
    INTERVAL_SECONDS from `first_due`, the grid APScheduler's interval trigger fires on; a
    tick that starts later than the earliest due time not yet served (the process was
    starved, or the previous tick ran past the next one, which APScheduler then skips) is
    late by that much, and serves every due time it passed.
    """

    def __init__(self, runtime: Runtime, first_due: datetime) -> None:
        self.runtime = runtime
        self.due = first_due

    def __call__(self) -> None:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        late = (started_at - self.due).total_seconds()
        # The next due time is the first after now (APScheduler skips those it missed).
        missed = max(0, math.floor(late / INTERVAL_SECONDS))
        self.due += timedelta(seconds=INTERVAL_SECONDS * (missed + 1))
        try:
            tick(self.runtime)
        except Exception as error:
            if isinstance(error, SQLAlchemyError):
                metrics.database_error("tick")
            # The next tick tries again; one failure must not stop the scheduler.
            log.exception("scheduled tick failed")
        finally:
            metrics.tick(time.perf_counter() - started, max(0.0, late))


def make_scheduler(runtime: Runtime) -> BaseScheduler:
    """A background scheduler that ticks every few seconds; the caller starts and stops it."""
    scheduler: BaseScheduler = BackgroundScheduler()
    first_due = datetime.now(UTC) + timedelta(seconds=INTERVAL_SECONDS)
    scheduler.add_job(
        TimedTick(runtime, first_due),
        "interval",
        seconds=INTERVAL_SECONDS,
        start_date=first_due,
        id="tick",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
