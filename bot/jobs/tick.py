"""Everything that is due at one instant, run once. `advocate tick` and the scheduler call it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.clock import fixed_clock
from bot.runtime import Runtime
from bot.slack.outbox import OutboxSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    delivered: int
    failed: int
    pending: int

    def __str__(self) -> str:
        return f"outbox: {self.delivered} sent, {self.failed} failed, {self.pending} waiting"


def tick(runtime: Runtime, now: datetime | None = None) -> TickReport:
    """Run due work at `now` (default: the runtime's clock). Safe alongside other processes."""
    clock = fixed_clock(now) if now else runtime.clock
    sender = OutboxSender(runtime.db, runtime.clients, clock)
    results = sender.deliver_due()
    report = TickReport(
        delivered=sum(r.status == "sent" for r in results),
        failed=sum(r.status == "failed" for r in results),
        pending=sum(r.status == "pending" for r in results),
    )
    if results:
        log.info("tick: %s", report)
    return report
