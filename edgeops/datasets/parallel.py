"""Run the per-image inspection on a thread pool, in batches, with progress.

hashlib and Pillow's decoders release the GIL, so threads overlap the I/O, hashing and decoding
of different images; batching keeps the per-future overhead off small images (see
bench/plan_scaling.py for measurements).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from edgeops.progress import Task

T = TypeVar("T")
R = TypeVar("R")

BATCH = 16  # images per submitted task


def default_workers() -> int:
    return min(8, (os.cpu_count() or 1) + 2)


def map_parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    task: Task | None = None,
    workers: int | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` on a thread pool, in input order."""
    n_workers = workers or default_workers()
    if n_workers <= 1 or len(items) <= BATCH:
        results = []
        for item in items:
            results.append(fn(item))
            if task is not None:
                task.advance()
        return results

    def run(start: int) -> tuple[int, list[R]]:
        return start, [fn(x) for x in items[start : start + BATCH]]

    out: list[R | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="edgeops-scan") as pool:
        futures = [pool.submit(run, start) for start in range(0, len(items), BATCH)]
        try:
            for fut in as_completed(futures):
                start, chunk = fut.result()
                out[start : start + len(chunk)] = chunk
                if task is not None:
                    task.advance(len(chunk))
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return out  # type: ignore[return-value]  # every slot was filled above
