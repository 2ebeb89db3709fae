"""`advocate run` with the work after the ack in the server's own process, for comparison.

`python -m bench.in_process run --http ...` is `advocate run` except that its listeners'
work runs on a thread pool in the server process, as Socket Mode runs it, instead of in the
worker process that `advocate run --http` starts (bot/listeners/worker.py). The benchmark
runs both on the same machine, one after the other, to show what the worker process changes.
"""

from __future__ import annotations

import sys

from bot import cli
from bot.config import Settings
from bot.listeners.work import Work


def in_this_process(settings: Settings) -> Work:
    return Work()


def main() -> int:
    cli._work_process = in_this_process
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
