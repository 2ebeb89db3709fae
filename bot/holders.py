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
from pathlib import Path

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
    """Whether the process still runs. A zombie does not: a worker process killed with the
    `advocate run` that forked it waits as one, holding its pid, until it is reaped, and
    its claims are free at once all the same."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self/stat").exists()  # reaped since, or no /proc here
    except OSError:
        return True
    # "pid (command) state ...": the command may hold any character, even ")".
    return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X")
