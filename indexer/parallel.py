"""Pure-Python work fanned out to one forked process per core.

jieba, libyaml's Python side and Whoosh's writer all hold the GIL, so threads do not help;
forked workers do, and they inherit what the parent has loaded (jieba's dictionary: initialise
it before forking, fxsjy/jieba#399; the KB) instead of pickling it. Work is handed over through
module globals set before the fork (see the callers).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

PARALLEL_MIN_ITEMS = 200  # articles; below this, starting worker processes costs more than it saves

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    return min(os.cpu_count() or 1, 8)


def fork_imap(
    fn: Callable[[T], R], items: Iterable[T], parallel: bool = True, chunksize: int = 1
) -> Iterator[R]:
    """fn over items, results in order: in forked workers when `parallel` and the machine has
    more than one core, otherwise in this process. `fn` must be a module-level function."""
    if not parallel or cores() < 2:
        yield from map(fn, items)
        return
    with multiprocessing.get_context("fork").Pool(cores()) as pool:
        yield from pool.imap(fn, items, chunksize)
