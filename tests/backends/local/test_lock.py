"""The apply lock: one holder, named in the error; dead holders are taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgeops import cli
from edgeops.backends.local.lock import _take_over, file_lock, force_unlock, read_holder
from edgeops.errors import LockError


def _holder(pid: int, host: str | None = None) -> dict[str, object]:
    return {
        "host": host or socket.gethostname(),
        "pid": pid,
        "started": "2026-01-02T03:04:05+00:00",
        "command": "apply",
    }


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_holder_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    with file_lock(path, "apply"):
        holder = read_holder(path)
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(LockError) as info, file_lock(path, "apply"):
            pass
        message = str(info.value)
        assert f"host {socket.gethostname()}" in message
        assert f"pid {os.getpid()}" in message
        assert f"started {holder['started']}" in message
        assert "edgeops unlock" in message
    assert not path.exists()


def test_the_lock_is_released_on_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    with pytest.raises(RuntimeError), file_lock(path, "apply"):
        raise RuntimeError("boom")
    assert not path.exists()
    with file_lock(path, "apply"):
        assert path.exists()


def test_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text(json.dumps(_holder(_dead_pid())))
    with file_lock(path, "apply"):
        holder = read_holder(path)
        assert holder is not None and holder["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_holder_on_another_host_is_never_presumed_dead(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text(json.dumps(_holder(_dead_pid(), host="build-agent-7")))
    with pytest.raises(LockError, match="host build-agent-7"), file_lock(path, "apply"):
        pass
    assert path.exists()


def test_a_late_taker_gives_a_live_lock_back(tmp_path: Path) -> None:
    # two processes saw the same dead holder; the first already replaced it with its own lock
    path = tmp_path / "lock.json"
    dead = _holder(_dead_pid())
    live = _holder(os.getpid())
    path.write_text(json.dumps(live))
    _take_over(path, dead)
    assert read_holder(path) == live
    assert [p.name for p in tmp_path.iterdir()] == ["lock.json"]


def test_releasing_never_removes_someone_elses_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    other = _holder(os.getpid() + 1, host="elsewhere")
    with file_lock(path, "apply"):
        path.write_text(json.dumps(other))  # force-unlocked and taken by someone else
    assert read_holder(path) == other


def test_force_unlock(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    assert force_unlock(path) is None
    path.write_text(json.dumps(_holder(12345, host="elsewhere")))
    holder = force_unlock(path)
    assert holder is not None and holder["host"] == "elsewhere"
    assert not path.exists()


def test_a_damaged_lock_file_is_reported_not_crashed_on(tmp_path: Path) -> None:
    path = tmp_path / "lock.json"
    path.write_text("{not json")
    with pytest.raises(LockError, match="another apply holds the lock"), file_lock(path, "apply"):
        pass


HOLD = """
import sys, time
from pathlib import Path
from edgeops.backends.local.lock import file_lock
with file_lock(Path(sys.argv[1]), "apply (test holder)"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_apply_fails_while_another_process_holds_the_lock(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)  # cli -C changes the working directory; restore it afterwards
    lock = repo / ".edgeops" / "lock.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert cli.main(["-C", str(repo), "apply", "--auto-approve"]) == 1
        err = capsys.readouterr().err
        assert "another apply holds the lock" in err
        assert f"pid {holder.pid}" in err and "apply (test holder)" in err
        assert "Traceback" not in err
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: the next apply takes the lock over and succeeds
    assert lock.exists()
    assert cli.main(["-C", str(repo), "apply", "--auto-approve"]) == 0
    assert "Apply complete: 1 change(s) made." in capsys.readouterr().out
    assert not lock.exists()
