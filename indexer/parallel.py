"""Pure-Python work fanned out to one forked process per core.

jieba, libyaml's Python side and Whoosh's writer all hold the GIL, so threads do not help;
forked workers do, and they inherit what the parent has loaded (jieba's dictionary: initialise
it before forking, fxsjy/jieba#399; the KB) instead of pickling it. Work is handed over through
module globals set before the fork (see the callers).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

PARALLEL_MIN_ITEMS = 200  # articles; below this, starting worker processes costs more than it saves

T = TypeVar("T")
R = TypeVar("R")


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_fds_not_for_workers: set[int] = set()


def cores() -> int:
    return min(os.cpu_count() or 1, 8)


@contextlib.contextmanager
def not_for_workers(fd: int):
    """Workers forked meanwhile close `fd`: a lock held through it must end with its holder,
    not live on in a worker (a forked child shares the parent's flock)."""
    _fds_not_for_workers.add(fd)
    try:
        yield
    finally:
        _fds_not_for_workers.discard(fd)


def _start_worker(parent: int, fds: tuple[int, ...]) -> None:
    # A build killed with SIGKILL must not leave workers writing into its partial build: on
    # Linux a worker is killed with its parent. If the parent died before this ran, go now.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def fork_imap(
    fn: Callable[[T], R], items: Iterable[T], parallel: bool = True, chunksize: int = 1
) -> Iterator[R]:
    """fn over items, results in order: in forked workers when `parallel` and the machine has
    more than one core, otherwise in this process. `fn` must be a module-level function."""
    if not parallel or cores() < 2:
        yield from map(fn, items)
        return
    start = (os.getpid(), tuple(_fds_not_for_workers))
    with multiprocessing.get_context("fork").Pool(cores(), _start_worker, start) as pool:
        yield from pool.imap(fn, items, chunksize)
