"""A long-running process, once started, leaves what it loaded out of every collection."""

from __future__ import annotations

import gc

from bot import heap


def test_what_exists_once_settled_is_frozen_and_what_comes_later_is_not() -> None:
    before = object()
    try:
        heap.settled()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        later = [object() for _ in range(10)]
        assert gc.get_freeze_count() == frozen
        assert before is not None and len(later) == 10
    finally:
        gc.unfreeze()
