"""Waiting for an `advocate run --http` that a test started to serve."""

from __future__ import annotations

import subprocess
import time
import urllib.request

# A start takes about a second on an idle machine. The bound is only reached by a start that
# failed, and leaves room for a machine busy with other tests (a start took over 10 s with
# two parallel test runs on two cores).
STARTUP_SECONDS = 90.0


def wait_serving(
    url: str, process: subprocess.Popen[str] | None = None, timeout: float = STARTUP_SECONDS
) -> int:
    """Wait until GET `url`/healthz answers and return its status; fail as soon as
    `process` has exited, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as answer:
                return int(answer.status)
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before serving {url}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{url}/healthz did not answer within {timeout:.0f} s")
        time.sleep(0.05)
