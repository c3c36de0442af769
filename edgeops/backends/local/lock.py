"""One apply at a time per local backend: an exclusive lock file that names its holder.

The file is created with O_EXCL, so two processes can never both hold it. A lock whose holder
is a dead process on this host is taken over (renamed away atomically; a live lock renamed
away by a late taker is put back).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from edgeops.backends import holder as holders
from edgeops.errors import LockError


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return dict(holders.UNREADABLE)


def _take_over(path: Path, dead: dict[str, Any]) -> None:
    """Remove the lock file of ``dead`` (a holder seen dead), and nobody else's.

    Two processes may both see the same dead holder; the first removes its file and takes the
    lock, so what the second renames away may be the first one's live lock: give it back.
    """
    stale = path.with_name(f"{path.name}.stale.{os.getpid()}")
    try:
        os.rename(path, stale)
    except FileNotFoundError:
        return
    try:
        if read_holder(stale) != dead:
            with suppress(FileExistsError):
                os.link(stale, path)
    finally:
        stale.unlink(missing_ok=True)


@contextmanager
def file_lock(path: Path, command: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    me = holders.this_process(command)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is None:
                continue  # released meanwhile; try again
            if holders.died_here(holder):
                _take_over(path, holder)
                continue
            raise LockError(
                f"{path}: another apply holds the lock ({holders.describe(holder)}).\n"
                "Wait for it to finish. If that process is gone for good (on another host, say), "
                "run `edgeops unlock`."
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
            f.flush()
            os.fsync(f.fileno())
        break
    else:
        raise LockError(f"{path}: could not take the lock; try again")
    try:
        yield
    finally:
        if holders.is_this_process(read_holder(path)):
            path.unlink(missing_ok=True)


def force_unlock(path: Path) -> dict[str, Any] | None:
    holder = read_holder(path)
    path.unlink(missing_ok=True)
    return holder
