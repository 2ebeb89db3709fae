"""Assert that what the app sends Slack is valid Block Kit and a valid app manifest.

Validation uses the shared published schemas (``slack-specs``), not hand-written rules,
so the app's blocks are checked against the same limits Slack enforces. Validators are
built once per schema folder. The schemas are not meta-validated (``check_schema``): they
are published files, and checking the Block Kit one costs a third of a second per surface.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from .specs import specs_dir

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "assert_valid_home",
    "assert_valid_manifest",
    "assert_valid_message_blocks",
    "assert_valid_modal",
]

# The schema's root allows 100 blocks (the modal/Home limit); messages allow only 50.
MAX_MESSAGE_BLOCKS = 50
_MAX_ERRORS_SHOWN = 5
_MAX_MESSAGE_CHARS = 400

Surface = Literal["message", "modal", "home"]


def _load_schema(folder: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
    return schema


# Both caches are keyed by the specs folder, so pointing SLACK_SPECS_DIR elsewhere mid-run
# gets validators for that folder instead of stale ones.
@functools.cache
def _block_kit_validator(surface: Surface, folder: str) -> Validator:
    schema = _load_schema(folder, "block-kit.schema.json")
    if surface != "message":
        # The root describes a bare block array; a view is an object defined under $defs.
        for key in ("type", "minItems", "maxItems", "items"):
            schema.pop(key, None)
        schema["$ref"] = f"#/$defs/{surface}_view"
    return Draft202012Validator(schema)


@functools.cache
def _manifest_validator(major_version: int, folder: str) -> Validator:
    schema = _load_schema(folder, f"manifest.schema.v{major_version}.json")
    return Draft7Validator(schema)


def _shorten(text: str) -> str:
    # Messages embed the failing instance, which can be a whole modal; keep both ends, as
    # the reason ("is too long", "is not valid under any of the given schemas") is last.
    if len(text) <= _MAX_MESSAGE_CHARS:
        return text
    half = _MAX_MESSAGE_CHARS // 2
    return f"{text[:half]} ... {text[-half:]}"


def _describe(errors: Iterable[ValidationError]) -> str | None:
    found = list(errors)
    if not found:
        return None
    # best_match digs into oneOf/anyOf branches, which is where Block Kit errors hide.
    best = best_match(found)
    lines = [f"{best.json_path}: {_shorten(best.message)}"]
    others = sorted((e for e in found if e is not best), key=lambda e: e.json_path)
    lines += [f"{e.json_path}: {_shorten(e.message)}" for e in others[: _MAX_ERRORS_SHOWN - 1]]
    if len(found) > _MAX_ERRORS_SHOWN:
        lines.append(f"... and {len(found) - _MAX_ERRORS_SHOWN} more")
    return "\n  ".join(lines)


def _assert_valid(validator: Validator, instance: Any, what: str) -> None:
    problems = _describe(validator.iter_errors(instance))
    if problems is not None:
        raise AssertionError(f"{what} is invalid:\n  {problems}")


def assert_valid_message_blocks(blocks: list[dict[str, Any]]) -> None:
    """Blocks for chat.postMessage / chat.update / respond(): schema plus the 50-block cap."""
    if not isinstance(blocks, list):
        raise AssertionError(f"message blocks must be a list, got {type(blocks).__name__}")
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        raise AssertionError(
            f"message has {len(blocks)} blocks; Slack allows at most {MAX_MESSAGE_BLOCKS}"
        )
    _assert_valid(_block_kit_validator("message", str(specs_dir())), blocks, "message blocks")


def assert_valid_modal(view: dict[str, Any]) -> None:
    """A view for views.open / views.push / views.update."""
    _assert_valid(_block_kit_validator("modal", str(specs_dir())), view, "modal view")


def assert_valid_home(view: dict[str, Any]) -> None:
    """A view for views.publish."""
    _assert_valid(_block_kit_validator("home", str(specs_dir())), view, "Home tab view")


def assert_valid_manifest(manifest: dict[str, Any]) -> None:
    """An app manifest, against the schema of its ``_metadata.major_version`` (default 1)."""
    metadata = manifest.get("_metadata")
    version = metadata.get("major_version", 1) if isinstance(metadata, dict) else 1
    if version not in (1, 2):
        raise AssertionError(f"unknown manifest _metadata.major_version {version!r}")
    _assert_valid(_manifest_validator(version, str(specs_dir())), manifest, "app manifest")
