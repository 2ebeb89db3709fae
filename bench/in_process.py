"""`advocate run` with the workers in the server's own process, for comparison.

`python -m bench.in_process run --http ...` is `advocate run` except that the workers that
run stored requests are threads of the server process, as in Socket Mode, instead of the
worker process that `advocate run --http` starts (bot/worker.py). The benchmark runs both
on the same machine, one after the other, to show what the worker process changes.
"""

from __future__ import annotations

import sys

from bot import cli
from bot.config import Settings


def in_this_process(settings: Settings) -> None:
    return None


def main() -> int:
    cli._worker_process = in_this_process  # type: ignore[assignment]
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
