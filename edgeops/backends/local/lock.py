"""One apply at a time per local backend: an exclusive lock file that names its holder.

The file is created with O_EXCL, so two processes can never both hold it. A lock whose holder
is a dead process on this host is taken over (renamed away atomically; a live lock renamed
away by a late taker is put back).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeops.errors import LockError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None
    except (ValueError, OSError):
        return {"host": "?", "pid": -1, "started": "?", "command": "?"}


def _holder_is_dead(holder: dict[str, Any]) -> bool:
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1)))


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


def describe(holder: dict[str, Any]) -> str:
    return (
        f"host {holder.get('host')}, pid {holder.get('pid')}, "
        f"started {holder.get('started')}, running `{holder.get('command')}`"
    )


@contextmanager
def file_lock(path: Path, command: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
    }
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is None:
                continue  # released meanwhile; try again
            if _holder_is_dead(holder):
                _take_over(path, holder)
                continue
            raise LockError(
                f"{path}: another apply holds the lock ({describe(holder)}).\n"
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
        holder = read_holder(path)
        if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            path.unlink(missing_ok=True)


def force_unlock(path: Path) -> dict[str, Any] | None:
    holder = read_holder(path)
    path.unlink(missing_ok=True)
    return holder
