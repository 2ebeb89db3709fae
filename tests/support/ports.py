"""Free TCP ports on loopback for the servers that tests start and for addresses where
nothing may answer.

A port that the kernel hands out for `bind(("127.0.0.1", 0))` comes from its ephemeral
range, where any outgoing connection of any process may take it between the moment it is
closed here and the moment a server started by the test binds it; and when tests run in
parallel (pytest-xdist), another worker may be handed the same one. So each pytest process
takes its ports from a block of its own, below the ephemeral range, never twice until the
block is used up, and only one that nothing has bound at the moment it is handed out.
"""

from __future__ import annotations

import os
import random
import socket
import threading

FIRST = 20000
# 12,000 ports below Linux's default ephemeral range (32768-60999): a block for each worker.
BLOCK = 1000
BLOCKS = 12

_lock = threading.Lock()
_next: int | None = None


def _block() -> int:
    """This process's block: gw0 the first, gw1 the next; one run without workers, the first."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker[2:]) if worker[2:].isdigit() else 0
    return FIRST + (number % BLOCKS) * BLOCK


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that nothing has bound, not handed out before by this process."""
    global _next
    start = _block()
    with _lock:
        if _next is None:
            # Two runs at once on one machine start at different places in the block.
            _next = random.randrange(BLOCK)
        for _ in range(BLOCK):
            port = start + _next
            _next = (_next + 1) % BLOCK
            if _bindable(port):
                return port
    raise RuntimeError(f"no free port in {start}-{start + BLOCK - 1}")
