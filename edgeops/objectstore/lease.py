"""One apply at a time per store: a lease on ``lock.json``, kept alive by a heartbeat.

- acquire: create the lock object only if it does not exist (``if_absent``), naming its holder
  (host, pid, start, command, the CI run's URL);
- heartbeat: while held, a daemon thread rewrites ``heartbeat_at`` every ``heartbeat_every``
  seconds, conditional on the etag it last wrote. When that condition fails someone else took
  the lock: the lease is lost, the heartbeat stops and ``check()`` raises LockError naming who
  has it (the backend calls ``check()`` before each state write);
- takeover: only of a stale lock (no heartbeat for ``stale_after`` seconds, or a holder that is
  a process on this host that no longer runs), conditional on the etag read, so of two takers
  exactly one wins;
- release: delete conditional on our etag, so someone else's lock is never removed.

Staleness compares the holder's clock with ours: ``stale_after`` is minutes, not seconds, so a
little clock skew between machines does not matter.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from edgeops.errors import EdgeopsError, LockError
from edgeops.objectstore.base import ObjectStore, PreconditionFailed

LOCK_KEY = "lock.json"
HEARTBEAT_EVERY = 30.0  # seconds
STALE_AFTER = 300.0  # seconds without a heartbeat before a lock may be taken over
ATTEMPTS = 3


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def ci_run_url() -> str | None:
    """The GitHub Actions run this process belongs to, when it runs in one."""
    server, repo, run = (
        os.environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def holder(command: str) -> dict[str, Any]:
    """Who holds the lock: written into it, shown to whoever is refused. ``token`` tells this
    lease's own writes apart from anyone else's."""
    now = _iso(_now())
    me: dict[str, Any] = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": now,
        "heartbeat_at": now,
        "command": command,
        "token": uuid.uuid4().hex,
    }
    url = ci_run_url()
    if url:
        me["ci_run_url"] = url
    return me


def heartbeat_age(holder: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the holder's last heartbeat (its start for a lock without one)."""
    stamp = holder.get("heartbeat_at") or holder.get("started_at") or holder.get("started")
    try:
        beat = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return ((now or _now()) - beat).total_seconds()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(holder: dict[str, Any], stale_after: float, now: datetime | None = None) -> bool:
    if holder.get("host") == socket.gethostname():
        try:
            if not _alive(int(holder.get("pid", -1))):
                return True
        except (TypeError, ValueError):
            pass
    age = heartbeat_age(holder, now)
    return age is None or age > stale_after  # unreadable: nobody can be shown as its holder


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def describe(holder: dict[str, Any], now: datetime | None = None) -> str:
    started = holder.get("started_at", holder.get("started"))
    text = (
        f"host {holder.get('host')}, pid {holder.get('pid')}, "
        f"running `{holder.get('command')}`, started {started}"
    )
    age = heartbeat_age(holder, now)
    if age is not None:
        text += f", last heartbeat {_ago(age)}"
    if holder.get("ci_run_url"):
        text += f", CI run {holder['ci_run_url']}"
    return text


def _encode(holder: dict[str, Any]) -> bytes:
    return json.dumps(holder, indent=1, sort_keys=True).encode()


def read_lock(store: ObjectStore, key: str = LOCK_KEY) -> tuple[dict[str, Any], str] | None:
    """The lock's holder and etag, or None when nobody holds it."""
    blob = store.get(key)
    if blob is None:
        return None
    try:
        found = json.loads(blob.data)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        found = {"host": "?", "pid": -1, "started_at": "?", "command": "?"}
    return found, blob.etag


class Lease:
    """``with Lease(store, "edgeops apply") as lease: ... lease.check() ...``"""

    def __init__(
        self,
        store: ObjectStore,
        command: str,
        *,
        key: str = LOCK_KEY,
        stale_after: float = STALE_AFTER,
        heartbeat_every: float | None = HEARTBEAT_EVERY,
    ) -> None:
        self.store = store
        self.command = command
        self.key = key
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every
        self.where = f"{store.url}/{key}"
        self.holder: dict[str, Any] | None = None  # as last written, while held
        self.took_over: dict[str, Any] | None = None  # the stale holder replaced, if any
        self._etag = ""
        self._beat_at = 0.0  # time.monotonic() of the last write that succeeded
        self._lost: str | None = None  # who has the lock now, once it is lost
        self._error: Exception | None = None  # the last heartbeat's failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- acquire -------------------------------------------------------------------------------

    def acquire(self) -> Lease:
        me = holder(self.command)
        body = _encode(me)
        self.took_over, self._lost, self._error = None, None, None
        for _ in range(ATTEMPTS):
            try:
                self._etag = self.store.put(self.key, body, if_absent=True)
                break
            except PreconditionFailed:
                pass
            found = read_lock(self.store, self.key)
            if found is None:
                continue  # released meanwhile: create it again
            current, etag = found
            if current.get("token") == me["token"]:  # our create landed, its answer was lost
                self._etag = etag
                break
            if not is_stale(current, self.stale_after):
                raise LockError(
                    f"{self.where}: another apply holds the lock ({describe(current)}).\n"
                    "Wait for it to finish (a lock whose heartbeat stops is taken over after "
                    f"{self.stale_after:.0f} s). If that process is gone for good, "
                    "run `edgeops unlock`."
                )
            try:
                self._etag = self.store.put(self.key, body, if_match=etag)
            except PreconditionFailed:
                continue  # another taker won, or the holder came back: look again
            self.took_over = current
            break
        else:
            raise LockError(f"{self.where}: could not take the lock (it kept changing); try again")
        self.holder = me
        self._beat_at = time.monotonic()
        if self.heartbeat_every:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._heartbeat, name="edgeops-lease-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    # --- while held ----------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        assert self.heartbeat_every and self.holder is not None
        mine = self.holder
        while not self._stop.wait(self.heartbeat_every):
            body = {**mine, "heartbeat_at": _iso(_now())}
            try:
                self._etag = self.store.put(self.key, _encode(body), if_match=self._etag)
            except PreconditionFailed:
                still_mine = self._who_has_it()
                if still_mine is None:
                    return  # lost
                body = still_mine
            except Exception as e:  # a network blip: try again next beat; check() judges
                self._error = e
                continue
            self.holder = mine = body
            self._beat_at = time.monotonic()

    def _who_has_it(self) -> dict[str, Any] | None:
        """After a failed heartbeat: our holder if the lock is still ours (a retried write whose
        first attempt landed), else None with the lease marked lost, naming who has it."""
        try:
            found = read_lock(self.store, self.key)
        except EdgeopsError as e:
            self._lost = f"taken over (who has it now could not be read: {e})"
            return None
        if found is None:
            self._lost = "removed (by `edgeops unlock`?)"
            return None
        current, etag = found
        if self.holder is not None and current.get("token") == self.holder.get("token"):
            self._etag = etag
            return current
        self._lost = f"taken over by {describe(current)}"
        return None

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def check(self) -> None:
        """Raise LockError unless this lease still holds the lock: call before each write."""
        if self.holder is None:
            raise RuntimeError(f"{self.where}: check() on a lease that is not held")
        if self._lost is not None:
            raise LockError(
                f"{self.where}: this apply no longer holds the lock: it was {self._lost}.\n"
                "It stopped before writing anything more; run `edgeops plan` to see the state now."
            )
        quiet = time.monotonic() - self._beat_at
        if quiet > self.stale_after:
            error = f" (last error: {self._error})" if self._error else ""
            raise LockError(
                f"{self.where}: the lock could not be refreshed for {quiet:.0f} s{error}, so "
                "another apply may have taken it over; this one stopped before writing more. "
                "Run `edgeops plan` to see the state now."
            )

    # --- release -------------------------------------------------------------------------------

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours (absent is fine)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.holder is None:
            return
        self.holder = None
        if self._lost is None:
            with suppress(PreconditionFailed):  # someone else's now: never remove it
                self.store.delete(self.key, if_match=self._etag)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.release()
            return
        with suppress(EdgeopsError):  # the error in flight matters more; without a heartbeat
            self.release()  # the lock goes stale and is taken over


def force_unlock(store: ObjectStore, key: str = LOCK_KEY) -> dict[str, Any] | None:
    """Remove the lock whoever holds it; returns the holder removed, or None when unlocked."""
    for _ in range(ATTEMPTS):
        found = read_lock(store, key)
        if found is None:
            return None
        current, etag = found
        try:
            store.delete(key, if_match=etag)
        except PreconditionFailed:
            continue  # a heartbeat landed meanwhile: look again
        return current
    raise LockError(
        f"{store.url}/{key}: the lock kept changing while being removed (its holder is alive "
        "and heartbeating); stop that apply first"
    )
