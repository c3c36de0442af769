"""Who holds a backend's lock (one apply at a time): the record the local lock file names its
holder with, how a holder reads in a message (that of a lock file, or of a lease such as the
google backend's bucket lock), and whether that holder is known to be gone."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from edgeops.objectstore import lease

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
    """The holder of a local lock file, or of a lease (``edgeops.objectstore.lease``: the
    google backend's bucket lock) with its last heartbeat and CI run."""
    if "started_at" in holder or "heartbeat_at" in holder:
        return lease.describe(holder)
    return (
        f"host {holder.get('host')}, pid {holder.get('pid')}, "
        f"started {holder.get('started')}, running `{holder.get('command')}`"
    )
