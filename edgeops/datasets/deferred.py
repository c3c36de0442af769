"""Writes a scan can leave to a child process: the folder snapshot of a large source.

Encoding and storing the snapshot of 100k images takes 0.5-0.7 s that nothing in this run
needs: only the next scan reads it. On Linux, when this process runs no other thread (a fork
then copies no lock another thread holds), a child forked for it does that work on the other
core while this process goes on with the plan. Elsewhere, for small sources, or when the fork
fails, the work runs here, as before.

Nothing is lost or half-written whatever happens: the child writes in one SQLite transaction
(killed, it leaves the previous snapshot or none), ignores Ctrl-C, and this process waits for it
before it exits (``atexit``) and before it reads the same cache again (``wait``), so a second
scan in the same process always finds the snapshot. What went wrong in the child (an unusable
cache) comes back as a warning through the reporter of the scan that started it.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from edgeops.progress import Reporter

MIN_IMAGES = 2000  # below this a snapshot takes a few ms: not worth a process


class _Child(NamedTuple):
    pid: int
    messages: int  # the read end of a pipe: warnings, one per line
    reporter: Reporter


_children: dict[str, list[_Child]] = {}  # cache path -> children writing to it
_lock = threading.Lock()


def run(cache_path: Path, images: int, reporter: Reporter, work: Callable[[], str]) -> None:
    """``work()`` (which returns a warning, or "") in a forked child when worth it and safe,
    else here; its warning goes to ``reporter``."""
    if images < MIN_IMAGES or not _can_fork():
        warning = work()
        if warning:
            reporter.warn(warning)
        return
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        warning = work()
        if warning:
            reporter.warn(warning)
        return
    if pid == 0:  # the child: never returns
        _child(read_end, write_end, work)
    os.close(write_end)
    with _lock:
        if not _children:
            atexit.register(wait)
        _children.setdefault(os.fspath(cache_path), []).append(_Child(pid, read_end, reporter))


def wait(cache_path: Path | None = None) -> None:
    """Wait for the children writing to ``cache_path`` (every child: None), passing on their
    warnings."""
    with _lock:
        if cache_path is None:
            children = [c for cs in _children.values() for c in cs]
            _children.clear()
        else:
            children = _children.pop(os.fspath(cache_path), [])
    for child in children:
        with os.fdopen(child.messages, "rb") as pipe:
            text = pipe.read().decode("utf-8", "replace")
        _, status = os.waitpid(child.pid, 0)
        for line in text.splitlines():
            child.reporter.warn(line)
        if os.waitstatus_to_exitcode(status) != 0 and not text:
            child.reporter.warn(
                "the dataset snapshot was not stored (its writer failed); the next plan lists "
                "the folder again"
            )


def _can_fork() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def _child(read_end: int, write_end: int, work: Callable[[], str]) -> None:
    code = 1
    try:
        os.close(read_end)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; this is short
        warning = work()
        if warning:
            os.write(write_end, warning.encode() + b"\n")
        code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flush of the parent's buffers
