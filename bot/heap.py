"""What a long-running process tells the garbage collector once it has started."""

from __future__ import annotations

import gc


def settled() -> None:
    """Start-up is over: the modules, the app and its prepared statements stay for the life
    of the process. Moved where the collector no longer looks, they are not walked again by
    every full collection, whose cost grows with them: the week's check-in fan-out spent a
    fifth of its time there (BENCHMARKS.md). A process forked later keeps sharing their
    memory pages, which a collection would otherwise write to."""
    gc.collect()
    gc.freeze()
