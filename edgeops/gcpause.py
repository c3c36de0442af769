"""Pause Python's cyclic garbage collector while a scan builds its records.

A scan of 100k images builds a few million small tuples and strings, none of them in a
reference cycle (they are freed by reference counting). Each allocation still counts towards
the collector's thresholds, and its collections walk every tracked object so far: on a cold
``edgeops plan`` of 100k images the collector took about a quarter of this process's time
(``bench/plan_scaling.py``). While paused, nothing is collected that reference counting would
not free anyway but cycles, and those are collected once it resumes.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_depth = 0  # pauses in progress (nested, or on other threads)
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside (nested and concurrent pauses allowed); restored after."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # What the pause allocated is still counted as young: the first collection
                # after it would walk all of it (0.4 s after a plan of 100k images). Moved to
                # the oldest generation instead (freeze, then unfreeze: two list merges), it is
                # walked only by a full collection, when the oldest generation has grown by a
                # quarter; cyclic garbage among it is collected then.
                gc.freeze()
                gc.unfreeze()
                gc.enable()


def pausing(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run with the collector :func:`paused`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return fn(*args, **kwargs)

    return wrapper
