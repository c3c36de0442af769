"""One apply at a time per bucket prefix: the lease of ``edgeops.objectstore.lease`` on
``<prefix>/lock.json``, the same lock a team's shared state uses.

The lock object is created only if absent (``ifGenerationMatch=0``) and names its holder; a
heartbeat thread refreshes it every ``backend.google.lock.heartbeat_seconds`` for as long as the
apply runs (a training polled for hours included), and another apply takes it over only when
that heartbeat is older than ``stale_after_seconds`` (or its holder is a process on this host
that has ended), by a compare-and-swap on the generation read, so of two takers one wins.

The lease talks to the bucket through a store built from the backend's own storage client:
the same credentials, project and endpoint, on connections of its own.
"""

from __future__ import annotations

from typing import Any

from edgeops.backends.google.bucket import StateBucket
from edgeops.config.model import StateLockSpec
from edgeops.objectstore import lease as leases
from edgeops.objectstore.gcs import GCSStore

LOCK_KEY = "lock.json"


def store_of(state: StateBucket) -> GCSStore:
    """The state bucket's prefix as an object store, on the backend's credentials."""
    return GCSStore.with_client(state.client, state.name, state.prefix)


def bucket_lease(
    state: StateBucket, command: str, spec: StateLockSpec | None = None
) -> leases.Lease:
    """The lease on ``<prefix>/lock.json`` (not taken yet: use it as a context manager)."""
    spec = spec or StateLockSpec()
    return leases.Lease(
        store_of(state),
        command,
        key=LOCK_KEY,
        stale_after=spec.stale_after_seconds,
        heartbeat_every=spec.heartbeat_seconds,
    )


def force_unlock(state: StateBucket) -> dict[str, Any] | None:
    """Remove the lock whoever holds it; the holder removed, or None when it was not locked."""
    return leases.force_unlock(store_of(state), LOCK_KEY)
