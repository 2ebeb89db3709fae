"""The in-process scheduler: one job, on a short interval, that runs `tick`."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.jobs.tick import tick
from bot.runtime import Runtime

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15


def _safe_tick(runtime: Runtime) -> None:
    try:
        tick(runtime)
    except Exception:
        # The next tick tries again; one failure must not stop the scheduler.
        log.exception("scheduled tick failed")


def make_scheduler(runtime: Runtime) -> BaseScheduler:
    """A background scheduler that ticks every few seconds; the caller starts and stops it."""
    scheduler: BaseScheduler = BackgroundScheduler()
    scheduler.add_job(
        _safe_tick,
        "interval",
        seconds=INTERVAL_SECONDS,
        args=[runtime],
        id="tick",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
