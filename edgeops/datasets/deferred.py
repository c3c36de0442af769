"""Writes a scan leaves to a background process: the folder snapshot of a large source.

Encoding and storing the snapshot of 100k images takes 0.5-0.7 s that nothing in this run
needs: only the next scan reads it. On Linux, when this process runs no other thread (a fork
then copies no lock another thread holds), a process forked for it (detached, as ``git gc
--auto`` is) does that work on the other core while this one goes on, and may outlive it by
that long. Elsewhere, for small sources, or when it cannot start, the work runs here.

Nothing is lost or half-read whatever happens:

- the writer holds an exclusive lock on ``<cache>.writing`` (``flock``, taken before the fork,
  so there is no moment without it) until it is done; whoever reads the cache's snapshots
  first waits for that lock (``wait``), this process or the next command, so a plan run right
  after another always finds its snapshot;
- it writes in one SQLite transaction (killed, it leaves the previous snapshot or none, and the
  next scan lists the folder again), ignores Ctrl-C, and writes nothing to the terminal;
- what went wrong in it (an unusable cache) is what the next scan says when it opens the cache.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edgeops.progress import Reporter

MIN_IMAGES = 2000  # below this a snapshot takes a few ms: not worth a process
WAIT_S = 60.0  # how long a reader waits for a writer before it reads without


def run(cache_path: Path, images: int, reporter: Reporter, work: Callable[[], str]) -> None:
    """``work()`` (which returns a warning, or "") in a detached process when worth it and
    safe, else here, its warning to ``reporter``."""
    if images < MIN_IMAGES or not _can_fork() or not _start(cache_path, work):
        warning = work()
        if warning:
            reporter.warn(warning)


def wait(cache_path: Path) -> None:
    """Return once no process is writing to ``cache_path`` (or ``WAIT_S`` passed)."""
    if not _can_lock():
        return
    try:
        fd = os.open(_lock_path(cache_path), os.O_RDONLY)
    except OSError:
        return  # no writer ever started here
    try:
        _lock(fd, shared=True)  # released as fd closes
    finally:
        os.close(fd)


def _lock(fd: int, *, shared: bool) -> bool:
    """Take the lock on ``fd``, waiting at most ``WAIT_S`` (a stuck writer: go on without)."""
    import fcntl

    kind = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            fcntl.flock(fd, kind)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        except OSError:
            return False


def _lock_path(cache_path: Path) -> str:
    return os.fspath(cache_path) + ".writing"


def _can_lock() -> bool:
    return sys.platform == "linux"


def _can_fork() -> bool:
    return _can_lock() and hasattr(os, "fork") and threading.active_count() == 1


def _start(cache_path: Path, work: Callable[[], str]) -> bool:
    """Fork the writer holding the lock; False (nothing started) when it cannot."""
    try:
        fd = os.open(_lock_path(cache_path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        if not _lock(fd, shared=False):  # waits for a writer still at it
            os.close(fd)
            return False
        pid = os.fork()
    except OSError:
        os.close(fd)
        return False
    if pid == 0:  # the first child: forks the writer and exits, so no zombie is left here
        _detach(fd, work)
    os.close(fd)  # the lock stays held by the writer's copy of the descriptor
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return True


def _detach(fd: int, work: Callable[[], str]) -> None:
    code = 1
    try:
        if os.fork() != 0:
            code = 0
        else:
            os.setsid()  # not in the terminal's process group: Ctrl-C is for the command
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _only_keep(fd)
            work()
            code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flush of the parent's buffers; the lock goes


def _only_keep(lock_fd: int) -> None:
    """Standard input, output and error to /dev/null, every other descriptor closed but the
    lock's: a pipe the command was writing to ends when the command does, not when this
    process does, and nothing the command had open is held any longer."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    if null > 2:
        os.close(null)
    top = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536
    os.closerange(3, lock_fd)
    os.closerange(lock_fd + 1, max(lock_fd + 1, top))
