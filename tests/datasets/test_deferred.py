"""The snapshot of a large source is written by a detached process: never lost, never half-read,
and waited for by whoever reads the cache next."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops.datasets import deferred
from edgeops.datasets.hashcache import HashCache
from edgeops.progress import NullReporter

from .conftest import Seeds, make_label_tree, scan, spec_for
from .test_snapshot import backdate, no_walk

# JAX, if an earlier test imported it, warns at any fork in a process that ran it
pytestmark = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
forks = pytest.mark.skipif(not deferred._can_lock(), reason="a writer is forked on Linux only")


@pytest.fixture(autouse=True)
def _fork_beside_other_threads(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier tests may leave idle threads (servers) in this process, where edgeops would not
    fork; these tests' writers take no lock any thread holds, so they fork regardless (except
    the test that checks threads keep the work here)."""
    if "another_thread" not in request.node.name:
        monkeypatch.setattr(deferred, "_can_fork", deferred._can_lock)


def writer(out: Path, go: Path | None = None, warning: str = "") -> Callable[[], str]:
    """Work that waits for the file ``go`` (if given), then writes its pid to ``out``."""

    def work() -> str:
        deadline = time.monotonic() + 30  # a failed test leaves no writer behind for long
        while go is not None and not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        out.write_text(str(os.getpid()))
        return warning

    return work


@forks
def test_work_runs_in_another_process_and_readers_wait_for_it(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    out, go = tmp_path / "pid", tmp_path / "go"
    deferred.run(cache, 10_000, NullReporter(), writer(out, go))
    assert not out.exists()  # run() returned while the writer waits for "go"
    go.touch()
    deferred.wait(cache)  # returns once the writer is done
    assert int(out.read_text()) != os.getpid()


def test_small_work_runs_here(tmp_path: Path) -> None:
    reporter = NullReporter()
    out = tmp_path / "pid"
    deferred.run(tmp_path / "c.sqlite", 10, reporter, writer(out, warning="note"))
    assert int(out.read_text()) == os.getpid()  # done before run() returned
    assert reporter.warnings == ["note"]


def test_with_another_thread_running_the_work_runs_here(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        out = tmp_path / "pid"
        deferred.run(tmp_path / "c.sqlite", 10_000, NullReporter(), writer(out))
        assert int(out.read_text()) == os.getpid()
    finally:
        stop.set()
        other.join()


def test_waiting_where_nothing_was_ever_written_returns(tmp_path: Path) -> None:
    deferred.wait(tmp_path / "never.sqlite")


@forks
def test_the_command_ends_and_its_output_pipe_closes_before_the_writer_is_done(
    tmp_path: Path,
) -> None:
    """A command whose output is piped (CI logs, `| tee`) ends when it is done: the writer does
    not hold the pipe open. The next reader of the cache, another process, waits for it."""
    cache, out, go = tmp_path / "c.sqlite", tmp_path / "pid", tmp_path / "go"
    code = (
        "import os, time\n"
        "from pathlib import Path\n"
        "from edgeops.datasets import deferred\n"
        "from edgeops.progress import NullReporter\n"
        "def work():\n"
        "    deadline = time.monotonic() + 30\n"
        f"    while not Path({str(go)!r}).exists() and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        f"    Path({str(out)!r}).write_text(str(os.getpid()))\n"
        "    return ''\n"
        f"deferred.run(Path({str(cache)!r}), 10_000, NullReporter(), work)\n"
        "print('planned')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "planned\n"
    assert not out.exists()  # the command ended; its writer is still waiting for "go"
    go.touch()
    reader = "from pathlib import Path\nfrom edgeops.datasets import deferred\n"
    reader += f"deferred.wait(Path({str(cache)!r}))\nprint(Path({str(out)!r}).read_text())\n"
    seen = subprocess.run(
        [sys.executable, "-c", reader], capture_output=True, text=True, timeout=60, check=True
    )
    assert int(seen.stdout) not in (os.getpid(), 0)


@forks
def test_a_large_scan_snapshot_is_there_for_the_next_scan_in_the_same_process(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deferred, "MIN_IMAGES", 1)  # every snapshot goes to a writer
    started: list[bool] = []
    real_start = deferred._start

    def counting_start(cache_path: Path, work: Callable[[], str]) -> bool:
        started.append(real_start(cache_path, work))
        return started[-1]

    monkeypatch.setattr(deferred, "_start", counting_start)
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    backdate(base)
    spec = spec_for("folder", base)
    first = scan(spec, tmp_path)
    assert started == [True]
    no_walk(monkeypatch)
    assert scan(spec, tmp_path) == first  # waited for the writer, then took its snapshot
    with HashCache(tmp_path / ".edgeops" / "cache.sqlite") as cache:
        assert cache.load_snapshot(os.fspath(base)) is not None
