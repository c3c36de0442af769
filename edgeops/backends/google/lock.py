"""One apply at a time per bucket prefix: ``<prefix>/lock.json``, created with
``if_generation_match=0`` so only one writer can ever create it, naming its holder.

A stale lock is taken over by a compare-and-swap on its generation (``if_generation_match`` =
the generation read), so of two processes that both see it stale only one wins. Stale means:
the holder is a dead process on this host, or the lock is older than ``TTL_HOURS`` (its holder
on another machine is presumed gone; the longest AutoML Edge training is 100 node hours, but
an apply polls it and is resumable, so a day-old lock is abandoned, not busy).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from edgeops.backends import holder as holders
from edgeops.backends.google.bucket import StateBucket
from edgeops.errors import LockError

TTL_HOURS = 24


def _now() -> datetime:
    return datetime.now(UTC)


def is_stale(holder: dict[str, Any], now: datetime | None = None) -> bool:
    now = now or _now()
    if holders.died_here(holder):
        return True
    try:
        started = datetime.fromisoformat(str(holder.get("started")))
    except ValueError:
        return True  # unreadable: nobody can be shown as its holder
    return now - started > timedelta(hours=TTL_HOURS)


def _read(state: StateBucket) -> tuple[dict[str, Any] | None, int]:
    blob = state.bucket.get_blob(state.path("lock.json"))
    if blob is None:
        return None, 0
    try:
        return json.loads(blob.download_as_bytes()), int(blob.generation)
    except ValueError:
        return dict(holders.UNREADABLE), int(blob.generation)


@contextmanager
def bucket_lock(state: StateBucket, command: str) -> Iterator[None]:
    from google.api_core import exceptions as gexc

    me = holders.this_process(command)
    name = state.path("lock.json")
    body = json.dumps(me).encode()
    generation = 0
    for _ in range(3):
        holder, current = _read(state)
        if holder is not None and not is_stale(holder):
            raise LockError(
                f"gs://{state.name}/{name}: another apply holds the lock "
                f"({holders.describe(holder)}).\n"
                "Wait for it to finish. If that process is gone for good, run `edgeops unlock`."
            )
        blob = state.bucket.blob(name)
        try:  # 0 = create only; else replace exactly the stale lock we read
            blob.upload_from_string(
                body, content_type="application/json", if_generation_match=current
            )
        except gexc.PreconditionFailed:
            continue  # someone else created or replaced it meanwhile: look again
        generation = int(blob.generation)
        break
    else:
        raise LockError(f"gs://{state.name}/{name}: could not take the lock; try again")
    try:
        yield
    finally:
        with suppress(gexc.NotFound, gexc.PreconditionFailed):
            state.bucket.blob(name).delete(if_generation_match=generation)


def force_unlock(state: StateBucket) -> dict[str, Any] | None:
    holder, _generation = _read(state)
    if holder is not None:
        state.delete("lock.json")
    return holder
