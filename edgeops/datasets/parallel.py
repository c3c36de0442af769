"""Run the per-image inspection in parallel, in batches, with progress.

Threads (:func:`map_parallel`) overlap what releases the GIL: reading, hashing and decoding
large photos. Small images are the opposite: opening one is mostly Pillow's Python code, so
threads fight over the GIL (20k 32x32 images took 8.0 s on 4 threads against 3.3 s on one).
Large scans therefore go to a pool of processes, one per core (:func:`map_processes`), in
chunks; see bench/plan_scaling.py for the measurements.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from edgeops.progress import Task

if TYPE_CHECKING:  # multiprocessing is imported only when a pool starts
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

BATCH = 16  # images per submitted task
PROCESS_MIN = 2000  # fewer items than this stay in this process (a pool costs ~0.2 s to start)
CHUNK = 256  # items per task sent to a worker process
PHOTO_BYTES = 16 * 1024  # mean file size from which a small scan decodes on threads
# What the forkserver imports once, so that each worker it forks starts with them.
PRELOAD = ["edgeops.datasets.images", "PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin"]


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


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def map_processes(
    fn: Callable[[list[T]], list[R]],
    items: Sequence[T],
    *,
    task: Task | None = None,
    processes: int | None = None,
    minimum: int | None = None,
    threads: bool = False,
    on_chunk: Callable[[Sequence[T], list[R]], None] | None = None,
) -> list[R]:
    """``fn(items)`` computed in chunks on a pool of worker processes, in input order.

    ``fn`` takes a list of items and returns one result per item; it must be importable by name
    (a module-level function) and so must the items and results be picklable.

    Below ``minimum`` (default :data:`PROCESS_MIN`) items, or on one core, it runs in this
    process: on a thread per core if ``threads`` (the caller knows the work releases the GIL,
    e.g. decoding photos rather than thumbnails), else on this thread.

    ``on_chunk(items, results)`` is called on this thread as each chunk's results come in (in
    any order), e.g. to keep them before the rest are done.

    Workers are forks of this process on Linux when it runs no other thread, else they come from
    a forkserver (a fork could inherit a lock another thread holds), or are spawned (Windows);
    they ignore SIGINT: an interrupt reaches this process alone, which cancels what has not
    started and re-raises.
    """
    n_workers = processes or cores()
    if n_workers <= 1 or len(items) < (PROCESS_MIN if minimum is None else minimum):
        if threads and n_workers > 1:
            done = map_parallel(lambda x: fn([x])[0], items, task=task, workers=n_workers)
            if on_chunk is not None:
                on_chunk(items, done)
            return done
        out_here: list[R] = []
        for start in range(0, len(items), CHUNK):
            part = list(items[start : start + CHUNK])
            chunk = fn(part)
            out_here.extend(chunk)
            if on_chunk is not None:
                on_chunk(part, chunk)
            if task is not None:
                task.advance(len(chunk))
        return out_here

    # at least 8 tasks per worker (balance, progress, a prompt interrupt), at most CHUNK items
    size = max(16, min(CHUNK, len(items) // (8 * n_workers)))
    out: list[R | None] = [None] * len(items)
    pool = _pool(n_workers)
    try:
        futures = {
            pool.submit(fn, list(items[start : start + size])): start
            for start in range(0, len(items), size)
        }
        for fut in as_completed(futures):
            chunk = fut.result()
            start = futures[fut]
            out[start : start + len(chunk)] = chunk
            if on_chunk is not None:
                on_chunk(items[start : start + len(chunk)], chunk)
            if task is not None:
                task.advance(len(chunk))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return out  # type: ignore[return-value]  # every slot was filled above


def _pool(n_workers: int) -> ProcessPoolExecutor:
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    ctx: Any
    methods = multiprocessing.get_all_start_methods()
    # fork only on Linux, and only when nothing else runs: no other thread holds a lock a
    # forked child could need (macOS's system libraries are not fork-safe at all)
    if sys.platform == "linux" and threading.active_count() == 1:
        ctx = multiprocessing.get_context("fork")
    elif "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
    else:  # Windows
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_worker_init)


class Prefetch(Generic[T, R]):
    """:func:`map_processes` for items handed over while they are still being found (a folder
    walk): once ``minimum`` items were offered, worker processes start on them, in chunks of
    :data:`CHUNK`, while the rest are found. Fewer than ``minimum`` in all: nothing is done
    here (:meth:`take` returns nothing, the caller inspects them as usual).

    Use as a context manager: leaving it (an error, an interrupt) cancels what has not started.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], *, minimum: int | None = None) -> None:
        self.fn = fn
        self.minimum = PROCESS_MIN if minimum is None else minimum
        self.buffer: list[T] = []
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[Any, list[T]] = {}
        self.n_workers = cores()

    def __enter__(self) -> Prefetch[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def offer(self, items: Sequence[T]) -> None:
        self.buffer.extend(items)
        if self.pool is None and self.n_workers > 1 and len(self.buffer) >= self.minimum:
            self.pool = _pool(self.n_workers)
        if self.pool is not None:
            self._submit(full_only=True)

    def _submit(self, *, full_only: bool) -> None:
        assert self.pool is not None
        while len(self.buffer) >= CHUNK or (self.buffer and not full_only):
            chunk, self.buffer = self.buffer[:CHUNK], self.buffer[CHUNK:]
            self.futures[self.pool.submit(self.fn, chunk)] = chunk

    def take(
        self,
        task: Task | None = None,
        on_chunk: Callable[[Sequence[T], list[R]], None] | None = None,
    ) -> dict[T, R]:
        """item -> result of everything offered (empty if no pool started); ``on_chunk`` as
        for :func:`map_processes`."""
        if self.pool is None:
            return {}
        self._submit(full_only=False)
        out: dict[T, R] = {}
        for fut in as_completed(self.futures):
            chunk = self.futures[fut]
            results = fut.result()
            out.update(zip(chunk, results, strict=True))
            if on_chunk is not None:
                on_chunk(chunk, results)
            if task is not None:
                task.advance(len(chunk))
        return out


def _worker_init() -> None:
    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker shares its parent's heap (the scan's records so far): keep the garbage
    # collector from walking, and so copying, all of it on every collection. The parent may
    # have paused the collector while it scans (edgeops/gcpause.py): a worker collects.
    gc.freeze()
    gc.enable()
