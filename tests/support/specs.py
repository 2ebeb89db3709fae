"""Locate and read the shared Slack reference data (schemas and real payloads).

The reference copy lives beside the repository (``<repo>/../shared/slack-specs``) and is
preferred when present; ``tests/slack_specs`` holds a copy of the files the tests read, so a
clone anywhere (CI) still validates. ``SLACK_SPECS_DIR`` overrides both.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SPECS_ENV_VAR = "SLACK_SPECS_DIR"


def specs_dir() -> Path:
    """The ``slack-specs`` folder, resolved on every call so the env var can change in tests."""
    override = os.environ.get(SPECS_ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    # tests/support/specs.py -> parents[2] is the repo root, parents[3] the folder holding it.
    here = Path(__file__).resolve()
    shared = here.parents[3] / "shared" / "slack-specs"
    return shared if shared.is_dir() else here.parents[1] / "slack_specs"


def payloads_dir() -> Path:
    return specs_dir() / "payloads"


def read_text(relative: str) -> str:
    path = specs_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"Slack reference file {path} is missing; set {SPECS_ENV_VAR} to the slack-specs folder"
        )
    return path.read_text(encoding="utf-8")


def load_json(relative: str) -> Any:
    """Parse a file under ``slack-specs``; a fresh object each call, so callers may mutate it."""
    return json.loads(read_text(relative))
