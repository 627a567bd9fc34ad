"""Spread independent per-model work over processes on a cold compile.

Workers are forked, so they share the parent's memory (the project, the schemas) without
pickling it; only each item and its plain result cross the process boundary. Where fork is
not available, or the work is small, everything runs in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

log = logging.getLogger("dpsql")

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 200  # below this, starting processes costs more than it saves

_job: tuple[Callable[[Any, Any], Any], Any] | None = None


def workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def fork_map(func: Callable[[Any, T], R], shared: Any, items: Sequence[T],
             min_items: int | None = None, fresh: bool = False) -> list[R]:
    """`[func(shared, item) for item in items]`, in forked processes when it pays (at least
    `min_items` items, MIN_ITEMS by default); `fresh`: each item in a new process, forked for
    it (a process's memory then holds one item's work, not the sum of several)."""
    count = workers()
    if (count < 2 or len(items) < (MIN_ITEMS if min_items is None else min_items)
            or "fork" not in multiprocessing.get_all_start_methods()):
        return [func(shared, item) for item in items]
    global _job
    _job = (func, shared)
    try:
        with multiprocessing.get_context("fork").Pool(
                count, maxtasksperchild=1 if fresh else None) as pool:
            chunk = 1 if fresh else max(1, len(items) // (count * 8))
            return pool.map(_call, items, chunksize=chunk)
    finally:
        _job = None


def _call(item: Any) -> Any:
    assert _job is not None
    func, shared = _job
    return func(shared, item)
