"""The bucket lock is the shared lease: a heartbeat keeps it through a long training, a lock is
taken over only when its heartbeat is stale (however long ago it started), of two takers one
wins, and `edgeops unlock` names a lease's holder with its heartbeat and CI run."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli
from edgeops.backends.google import vertex
from edgeops.backends.google.backend import GoogleBackend
from edgeops.backends.google.bucket import StateBucket
from edgeops.backends.google.lock import bucket_lease
from edgeops.config.loader import load_config
from edgeops.config.model import StateLockSpec
from edgeops.errors import LockError
from edgeops.objectstore.lease import Lease

LOCK = "edgeops/lock.json"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _state(google: FakeGoogle) -> StateBucket:
    """The state bucket through a client of its own: another machine's view."""
    from google.cloud import storage  # type: ignore[attr-defined]

    client = storage.Client(project=google.project)
    return StateBucket(client, google.bucket, "edgeops")  # type: ignore[attr-defined]


def _configure(repo: Path, heartbeat: float, stale_after: float) -> StateLockSpec:
    text = repo.read_text()
    lock = f"    lock: {{heartbeat_seconds: {heartbeat}, stale_after_seconds: {stale_after}}}\n"
    repo.write_text(text.replace("    prefix: edgeops\n", "    prefix: edgeops\n" + lock, 1))
    spec = load_config(repo).backend.google
    assert spec is not None and spec.lock == StateLockSpec(heartbeat, stale_after)
    return spec.lock


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def _lock_of(st: StateBucket) -> dict[str, Any] | None:
    blob = st.bucket.get_blob(LOCK)
    return None if blob is None else json.loads(blob.download_as_bytes())


def _put_lock(st: StateBucket, holder: dict[str, Any]) -> None:
    st.bucket.blob(LOCK).upload_from_string(json.dumps(holder))


def _someone_elsewhere(started_ago: float, beat_ago: float) -> dict[str, Any]:
    return {
        "host": "ci-runner-7",
        "pid": 1,
        "started_at": _ago(started_ago),
        "heartbeat_at": _ago(beat_ago),
        "command": "apply",
        "token": "token-of-ci-runner-7",
        "ci_run_url": "https://github.com/acme/vision/actions/runs/4242",
    }


def test_the_heartbeat_keeps_the_lock_through_a_long_training(
    google: FakeGoogle,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = _configure(repo, heartbeat=1, stale_after=2.5)
    st = _state(google)
    google.hold = True
    seen: list[dict[str, Any]] = []
    refused: list[str] = []
    began = time.monotonic()

    def poll_sleep(_seconds: float) -> None:
        holder = _lock_of(st)
        assert holder is not None
        seen.append(holder)
        polled = time.monotonic() - began
        if polled > spec.stale_after_seconds + 0.5 and not refused:
            # training has outlasted stale_after: the lock must still refuse another apply
            with pytest.raises(LockError) as info, bucket_lease(st, "apply (second)", spec):
                pass
            refused.append(str(info.value))
        if refused and len({h["heartbeat_at"] for h in seen}) >= 3 or polled > 30:
            google.hold = False
        time.sleep(0.1)

    real_wait = vertex.wait_for_pipeline
    monkeypatch.setattr(
        vertex,
        "wait_for_pipeline",
        lambda clients, name, on_poll: real_wait(clients, name, on_poll, sleep=poll_sleep),
    )
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out  # its writes after the training passed the lease's check
    assert refused and "another apply holds the lock" in refused[0]
    assert f"host {socket.gethostname()}" in refused[0] and "running `apply`" in refused[0]
    beats = [datetime.fromisoformat(h["heartbeat_at"]) for h in seen]
    assert len(set(beats)) >= 3 and beats == sorted(beats)  # refreshed, never moved back
    assert {h["started_at"] for h in seen} == {seen[0]["started_at"]}  # one holder throughout
    assert {h["token"] for h in seen} == {seen[0]["token"]}
    assert _lock_of(st) is None  # released


def test_a_lock_is_taken_over_only_when_its_heartbeat_is_stale(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure(repo, heartbeat=10, stale_after=120)
    st = _state(google)
    # started three days ago (the old 24-hour rule would have taken it) but heartbeating
    held = _someone_elsewhere(started_ago=3 * 86400, beat_ago=100)
    _put_lock(st, held)
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 1, out
    assert "another apply holds the lock" in out and "host ci-runner-7" in out
    assert re.search(r"last heartbeat 10\d s ago", out), out
    assert "CI run https://github.com/acme/vision/actions/runs/4242" in out
    assert "taken over after 120 s" in out
    assert google.pipelines == {}  # the refused apply did nothing
    assert _lock_of(st) == held  # left as it was

    _put_lock(st, _someone_elsewhere(started_ago=600, beat_ago=150))  # silent for 150 s
    backend = GoogleBackend(load_config(repo))
    with backend.lock("apply"):
        holder = _lock_of(st)
        assert holder is not None and holder["pid"] != 1 and holder["command"] == "apply"
        assert holder["host"] == socket.gethostname()
    assert _lock_of(st) is None


def _race(takers: list[Lease]) -> tuple[list[Lease], list[str]]:
    """Every taker acquires at once: (the leases won, the refusals' messages)."""
    start = threading.Barrier(len(takers))
    won: list[Lease] = []
    refused: list[str] = []

    def take(lease: Lease) -> None:
        start.wait()
        try:
            won.append(lease.acquire())
        except LockError as e:
            refused.append(str(e))

    threads = [threading.Thread(target=take, args=(t,)) for t in takers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused


def test_of_two_takers_of_a_stale_lock_one_wins(google: FakeGoogle) -> None:
    spec = StateLockSpec(heartbeat_seconds=30, stale_after_seconds=120)
    for _round in range(3):
        _put_lock(_state(google), _someone_elsewhere(started_ago=3600, beat_ago=600))
        takers = [bucket_lease(_state(google), f"apply (taker {i})", spec) for i in range(2)]
        won, refused = _race(takers)
        assert len(won) == 1 and len(refused) == 1, (won, refused)
        (winner,) = won
        assert winner.took_over is not None and winner.took_over["host"] == "ci-runner-7"
        assert f"running `{winner.command}`" in refused[0]  # the loser names the winner
        holder = _lock_of(_state(google))
        assert holder is not None and holder["command"] == winner.command
        winner.release()
        assert _lock_of(_state(google)) is None


def test_unlock_names_a_lease_holder_with_its_heartbeat_and_ci_run(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    st = _state(google)
    _put_lock(st, _someone_elsewhere(started_ago=7200, beat_ago=5))
    code, out = run(capsys, "unlock", "-f", str(repo))
    assert code == 0, out
    assert out.startswith("Removed the lock held by host ci-runner-7, pid 1, running `apply`")
    assert re.search(r", last heartbeat \d s ago, ", out), out
    assert "CI run https://github.com/acme/vision/actions/runs/4242" in out
    assert _lock_of(st) is None
    assert run(capsys, "unlock", "-f", str(repo))[1] == "Not locked.\n"
