"""Who holds a backend's lock (one apply at a time): the record every backend's lock names its
holder with, how it reads in a message, and whether that holder is known to be gone."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

# what a lock whose record cannot be read is shown as
UNREADABLE: dict[str, Any] = {"host": "?", "pid": -1, "started": "?", "command": "?"}


def this_process(command: str) -> dict[str, Any]:
    """The holder record of this process running ``command``."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
    }


def is_this_process(holder: dict[str, Any] | None) -> bool:
    return (
        holder is not None
        and holder.get("pid") == os.getpid()
        and holder.get("host") == socket.gethostname()
    )


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def died_here(holder: dict[str, Any]) -> bool:
    """The holder was a process on this host that is gone (a holder elsewhere: unknown)."""
    return holder.get("host") == socket.gethostname() and not alive(int(holder.get("pid", -1)))


def describe(holder: dict[str, Any]) -> str:
    return (
        f"host {holder.get('host')}, pid {holder.get('pid')}, "
        f"started {holder.get('started')}, running `{holder.get('command')}`"
    )
