"""The layers import downwards only: `store/` and `domain` know nothing of what uses them."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "bot" or name.startswith("bot.")}


def test_the_store_imports_only_the_domain_and_itself() -> None:
    for path in sorted((BOT / "store").glob("*.py")):
        above = {
            m
            for m in imported(path)
            if not m.startswith(("bot.store", "bot.domain", "bot._migrations"))
        }
        assert not above, f"{path.name} imports {sorted(above)}"


def test_the_domain_imports_nothing_of_the_app() -> None:
    assert imported(BOT / "domain.py") == set()
