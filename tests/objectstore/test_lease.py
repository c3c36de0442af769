"""The lease lock on every store: one holder, named when refused; a heartbeat; takeover of a
stale lock by exactly one taker; a lost lease detected before the next write."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edgeops.errors import LockError
from edgeops.objectstore import ObjectStore
from edgeops.objectstore.lease import LOCK_KEY, Lease, force_unlock, read_lock

from .conftest import MakeStore

CI = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/vision",
    "GITHUB_RUN_ID": "4242",
}


def _iso(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def _someone(host: str = "build-agent-7", pid: int = 4321, beat_ago: float = 1.0) -> dict[str, Any]:
    return {
        "host": host,
        "pid": pid,
        "started_at": _iso(3600),
        "heartbeat_at": _iso(beat_ago),
        "command": "edgeops apply",
        "token": f"token-of-{host}-{pid}",
    }


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _holder(store: ObjectStore) -> dict[str, Any] | None:
    found = read_lock(store)
    return None if found is None else found[0]


def test_a_second_taker_is_refused_with_the_holder_named(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    with Lease(make_store(), "edgeops apply", heartbeat_every=None) as lease:
        held = _holder(lease.store)
        assert held is not None and held == lease.holder
        assert held["ci_run_url"] == "https://github.com/acme/vision/actions/runs/4242"
        with pytest.raises(LockError) as info, Lease(make_store(), "edgeops apply"):
            pass
        message = str(info.value)
        assert message.startswith(f"{lease.store.url}/{LOCK_KEY}: another apply holds the lock")
        for part in (
            f"host {socket.gethostname()}",
            f"pid {os.getpid()}",
            f"started {held['started_at']}",
            "CI run https://github.com/acme/vision/actions/runs/4242",
            "edgeops unlock",
        ):
            assert part in message
        assert re.search(r", last heartbeat \d+ s ago, ", message)
        lease.check()
    assert read_lock(lease.store) is None


def test_the_heartbeat_advances_while_held(store: ObjectStore) -> None:
    with Lease(store, "edgeops apply", heartbeat_every=0.2) as lease:
        first = read_lock(store)
        time.sleep(0.9)
        later = read_lock(store)
        assert first is not None and later is not None
        assert later[1] != first[1]
        assert later[0]["heartbeat_at"] > first[0]["heartbeat_at"]
        assert later[0]["started_at"] == first[0]["started_at"]
        assert later[0] == lease.holder
        lease.check()
    assert read_lock(store) is None


def test_a_stale_lock_is_taken_over(store: ObjectStore) -> None:
    stale = _someone(beat_ago=600)
    store.put(LOCK_KEY, json.dumps(stale).encode())
    with Lease(store, "edgeops apply", stale_after=300, heartbeat_every=None) as lease:
        assert lease.took_over == stale
        assert _holder(store) == lease.holder
    assert read_lock(store) is None


def test_a_live_lock_on_another_host_is_not_taken_over(store: ObjectStore) -> None:
    live = _someone(pid=_dead_pid(), beat_ago=10)  # its pid means nothing on this host
    store.put(LOCK_KEY, json.dumps(live).encode())
    with pytest.raises(LockError, match="host build-agent-7"), Lease(store, "edgeops apply"):
        pass
    assert _holder(store) == live


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store: ObjectStore) -> None:
    dead = _someone(host=socket.gethostname(), pid=_dead_pid(), beat_ago=1)
    store.put(LOCK_KEY, json.dumps(dead).encode())
    with Lease(store, "edgeops apply", heartbeat_every=None) as lease:
        assert lease.took_over == dead


def _race(stores: list[ObjectStore]) -> tuple[list[Lease], list[str]]:
    """Every store's lease tries to take the lock at the same moment."""
    barrier = threading.Barrier(len(stores))
    won: list[Lease] = []
    refused: list[str] = []

    def take(store: ObjectStore) -> None:
        lease = Lease(store, "edgeops apply", heartbeat_every=None)
        barrier.wait()
        try:
            won.append(lease.acquire())
        except LockError as e:
            refused.append(str(e))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused


def test_of_two_takers_exactly_one_wins(make_store: MakeStore) -> None:
    setup = make_store()
    for stale in (False, True, True):  # both create it; both take over a stale one
        if stale:
            setup.put(LOCK_KEY, json.dumps(_someone(beat_ago=600)).encode())
        won, refused = _race([make_store(), make_store()])
        assert len(won) == 1 and len(refused) == 1
        assert f"pid {os.getpid()}" in refused[0]  # the winner is named
        assert _holder(setup) == won[0].holder
        won[0].release()


def test_a_lost_lease_is_detected_by_check(store: ObjectStore, make_store: MakeStore) -> None:
    lease = Lease(store, "edgeops apply", stale_after=300, heartbeat_every=0.2).acquire()
    other = make_store()
    other.put(LOCK_KEY, json.dumps(_someone(host="build-agent-9")).encode())  # took it
    deadline = time.monotonic() + 5
    while not lease.lost and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(LockError) as info:
        lease.check()
    assert "this apply no longer holds the lock" in str(info.value)
    assert "taken over by host build-agent-9" in str(info.value)
    lease.release()
    holder = _holder(other)
    assert holder is not None and holder["host"] == "build-agent-9"  # never removed


def test_a_lease_without_a_heartbeat_for_too_long_stops_writes(store: ObjectStore) -> None:
    with Lease(store, "edgeops apply", stale_after=0.3, heartbeat_every=None) as lease:
        lease.check()
        time.sleep(0.4)
        with pytest.raises(LockError, match="could not be refreshed for"):
            lease.check()


def test_the_lock_is_released_on_an_exception(store: ObjectStore) -> None:
    with pytest.raises(RuntimeError), Lease(store, "edgeops apply", heartbeat_every=0.2):
        raise RuntimeError("boom")
    assert read_lock(store) is None
    with Lease(store, "edgeops apply", heartbeat_every=None):
        assert read_lock(store) is not None


def test_force_unlock(store: ObjectStore) -> None:
    assert force_unlock(store) is None
    someone = _someone()
    store.put(LOCK_KEY, json.dumps(someone).encode())
    assert force_unlock(store) == someone
    assert read_lock(store) is None
    with Lease(store, "edgeops apply", heartbeat_every=None):
        pass


def test_an_unreadable_lock_is_stale(store: ObjectStore) -> None:
    store.put(LOCK_KEY, b"not json")
    with Lease(store, "edgeops apply", heartbeat_every=None) as lease:
        assert lease.took_over is not None and lease.took_over["host"] == "?"
