"""Who holds a claim (a stored request, an outbox message): a process, named by its host, its
pid and a random part, so that it is unique across containers sharing a hostname or a pid
and across a pid's reuse, and so that a process on the same machine can tell whether the
holder is still alive: a claim whose holder died here is free at once, not when its lease
ends."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable

_names: dict[int, str] = {}


def me() -> str:
    """This process's name; a forked child gets its own."""
    pid = os.getpid()
    if pid not in _names:
        _names[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
    return _names[pid]


def here() -> str:
    """The prefix of the names of this machine's processes."""
    return f"{socket.gethostname()}:"


def dead_here(holders: Iterable[str | None]) -> list[str]:
    """Those of `holders` that were processes of this machine and are gone."""
    return sorted({h for h in holders if h and h.startswith(here()) and not _alive(_pid_of(h))})


def _pid_of(holder: str) -> str:
    parts = holder.split(":")
    return parts[1] if len(parts) > 1 else ""


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: str) -> bool:
    """Killed, but not yet reaped by its parent (Linux; elsewhere taken as alive)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
