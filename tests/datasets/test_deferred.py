"""The snapshot of a large source is written by a forked child: never lost, never half-read."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops.datasets import deferred
from edgeops.datasets.hashcache import HashCache
from edgeops.progress import NullReporter

from .conftest import Seeds, make_label_tree, scan, spec_for
from .test_snapshot import backdate, no_walk

forks = pytest.mark.skipif(not deferred._can_fork(), reason="forks only on Linux, one thread")


def pid_writer(out: Path, warning: str = "") -> Callable[[], str]:
    def work() -> str:
        out.write_text(str(os.getpid()))
        return warning

    return work


@forks
def test_work_runs_in_a_child_and_its_warning_comes_back(tmp_path: Path) -> None:
    reporter = NullReporter()
    out = tmp_path / "pid"
    deferred.run(tmp_path / "c.sqlite", 10_000, reporter, pid_writer(out, "cache unusable"))
    deferred.wait(tmp_path / "c.sqlite")
    assert int(out.read_text()) != os.getpid()
    assert reporter.warnings == ["cache unusable"]


def test_small_work_runs_here(tmp_path: Path) -> None:
    reporter = NullReporter()
    out = tmp_path / "pid"
    deferred.run(tmp_path / "c.sqlite", 10, reporter, pid_writer(out, "note"))
    assert int(out.read_text()) == os.getpid()  # done before run() returned
    assert reporter.warnings == ["note"]


def test_with_another_thread_running_the_work_runs_here(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        out = tmp_path / "pid"
        deferred.run(tmp_path / "c.sqlite", 10_000, NullReporter(), pid_writer(out))
        assert int(out.read_text()) == os.getpid()
    finally:
        stop.set()
        other.join()


@forks
def test_a_child_that_fails_is_a_warning(tmp_path: Path) -> None:
    def fail() -> str:
        raise RuntimeError("boom")

    reporter = NullReporter()
    deferred.run(tmp_path / "c.sqlite", 10_000, reporter, fail)
    deferred.wait()
    assert len(reporter.warnings) == 1
    assert "snapshot was not stored" in reporter.warnings[0]


@forks
def test_the_process_waits_for_its_children_before_it_exits(tmp_path: Path) -> None:
    out = tmp_path / "done"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edgeops.datasets import deferred\n"
        "from edgeops.progress import NullReporter\n"
        "def work():\n"
        "    time.sleep(0.5)\n"
        f"    Path({str(out)!r}).write_text('written')\n"
        "    return ''\n"
        f"deferred.run(Path({str(tmp_path / 'c.sqlite')!r}), 10_000, NullReporter(), work)\n"
        "sys.exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert out.read_text() == "written"  # the parent exited after its child


@forks
def test_a_large_scan_snapshot_is_there_for_the_next_scan_in_the_same_process(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deferred, "MIN_IMAGES", 1)  # every snapshot goes to a child
    children: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(deferred.os, "fork", counting_fork)
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    backdate(base)
    spec = spec_for("folder", base)
    first = scan(spec, tmp_path)
    assert len(children) == 1
    no_walk(monkeypatch)
    assert scan(spec, tmp_path) == first  # waited for the child, then took its snapshot
    with HashCache(tmp_path / ".edgeops" / "cache.sqlite") as cache:
        assert cache.load_snapshot(os.fspath(base)) is not None
