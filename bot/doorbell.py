"""How the server of `advocate run` tells its worker process (bot/worker.py) that it stored
a request: a datagram on a Unix socket of theirs, so that a worker starts on it at once
rather than at its next look at the database (bot/pipeline.py `POLL_SECONDS`).

Ringing never waits and never fails: with no worker listening (it is starting, or being
replaced), or its queue full, the workers' own looks find the request. Nothing is handed
over but the ring: the request itself is in the database.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Rung:
    """The doorbell rang: requests were stored, and whether one of them opens a modal."""

    fast: bool


class Doorbell:
    """The server's side: rings at `path`; `listen(path)` is the workers' side."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def ring(self, fast: bool = False) -> None:
        with contextlib.suppress(OSError):
            self._socket.sendto(b"f" if fast else b"s", self.path)

    @staticmethod
    @contextlib.contextmanager
    def listen(path: str) -> Iterator[_Listening]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a worker process that died
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listening.bind(path)
            listening.setblocking(False)
            yield _Listening(listening)
        finally:
            listening.close()


class _Listening:
    def __init__(self, listening: socket.socket) -> None:
        self._socket = listening

    def wait(self, seconds: float) -> Rung | None:
        """A ring within `seconds` (all rung since, as one), or None."""
        ready, _, _ = select.select([self._socket], [], [], seconds)
        if not ready:
            return None
        fast = False
        with contextlib.suppress(BlockingIOError):
            while True:
                fast = self._socket.recv(16) == b"f" or fast
        return Rung(fast)
