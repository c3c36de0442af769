"""Large scans inspect images in worker processes: same results, same order, same problems."""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path

import pytest

from edgeops.datasets import parallel
from edgeops.datasets import scan as scan_module
from edgeops.datasets.images import Inspection, inspect_paths, png_chunks_error

from .conftest import (
    Seeds,
    image_bytes,
    make_label_tree,
    scan,
    scan_error,
    spec_for,
    tree_members,
    write_zip,
)


class Advances:
    def __init__(self) -> None:
        self.total = 0

    def advance(self, n: int = 1) -> None:
        self.total += n


def _paths(base: Path) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, files in os.walk(base) for f in files)


def test_pool_matches_inspecting_here(tmp_path: Path, seeds: Seeds) -> None:
    make_label_tree(tmp_path / "data", {"cat": 300, "dog": 300}, seeds)
    (tmp_path / "data" / "dog" / "notes.jpg").write_text("not an image")
    paths = _paths(tmp_path / "data")
    here = inspect_paths(paths)
    task = Advances()
    pooled = parallel.map_processes(inspect_paths, paths, task=task, processes=2, minimum=0)
    assert pooled == here  # every result, in input order
    assert task.total == len(paths)
    assert sum(1 for row in pooled if Inspection._make(row[3:]).error) == 1


def test_pool_is_used_from_a_threaded_process(tmp_path: Path, seeds: Seeds) -> None:
    """With other threads running, workers come from a forkserver instead of a fork."""
    make_label_tree(tmp_path / "data", {"cat": 40, "dog": 40}, seeds)
    paths = _paths(tmp_path / "data")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pooled = parallel.map_processes(inspect_paths, paths, processes=2, minimum=0)
    finally:
        stop.set()
        other.join()
    assert pooled == inspect_paths(paths)


def test_large_folder_scan_goes_through_the_pool(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 150, "dog": 150, "fox": 150}, seeds)
    spec = spec_for("folder", base)
    here = scan(spec, tmp_path, cache="here.sqlite")

    used = pools_started(monkeypatch)
    after_walk: list[int] = []  # images left to inspect once the walk was over
    real_map = scan_module.map_processes

    def counting_map(fn, items, **kw):  # type: ignore[no-untyped-def]
        after_walk.append(len(items))
        return real_map(fn, items, **kw)

    monkeypatch.setattr(scan_module, "map_processes", counting_map)
    pooled = scan(spec, tmp_path, cache="pooled.sqlite")
    assert used, "the scan did not use worker processes"
    assert after_walk == [0]  # all were inspected while the walk went on (from 100 found)
    assert pooled == here
    assert pooled.fingerprint() == here.fingerprint()

    # a bad file among hundreds is still named, and the scan still fails as a whole
    (base / "fox" / "cut.png").write_bytes(image_bytes(seeds(), size=(64, 64))[:200])
    assert "data/fox/cut.png: corrupt or truncated image" in scan_error(spec, tmp_path)


def test_large_zip_scan_goes_through_the_pool(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = tree_members({"cat": 150, "dog": 150}, seeds)
    members.append(("dog/cut.png", image_bytes(seeds(), size=(64, 64))[:200]))
    spec = spec_for("zip", write_zip(tmp_path / "data.zip", members))
    here = scan_error(spec, tmp_path)

    used = pools_started(monkeypatch)
    for suffix in ("", "-wal", "-shm"):  # forget the cached scan of the zip
        Path(f"{tmp_path / '.edgeops' / 'cache.sqlite'}{suffix}").unlink(missing_ok=True)
    pooled = scan_error(spec, tmp_path)
    assert used, "the scan did not use worker processes"
    assert pooled == here and "data.zip:dog/cut.png: corrupt or truncated image" in pooled


def pools_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Scans from 100 images on use worker processes, as if on 2 cores; the returned list
    gets an item per pool started."""
    used: list[int] = []
    real = parallel._pool

    def counting_pool(n_workers: int) -> object:
        used.append(1)
        return real(n_workers)

    monkeypatch.setattr(parallel, "_pool", counting_pool)
    monkeypatch.setattr(parallel, "PROCESS_MIN", 100)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    return used


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return len(data).to_bytes(4, "big") + kind + data + crc.to_bytes(4, "big")


def test_png_chunk_check_sees_what_decoding_skips() -> None:
    good = image_bytes(7, "PNG", size=(16, 16))
    assert png_chunks_error(good) == ""
    iend = good.rindex(b"IEND") - 4
    # a text chunk after the image data with a broken CRC: decoding never reads it
    text = bytearray(_chunk(b"tEXt", b"Comment\x00hello"))
    text[-1] ^= 0xFF
    broken = good[:iend] + bytes(text) + good[iend:]
    assert "bad checksum in tEXt chunk" in png_chunks_error(broken)
    assert "truncated" in png_chunks_error(good[:iend])  # no IEND
    assert "truncated" in png_chunks_error(good[:-2])  # IEND cut short


def collector_enabled(items: list[int]) -> list[bool]:
    import gc

    return [gc.isenabled() for _ in items]


def test_scans_pause_the_collector_but_workers_collect(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    make_label_tree(tmp_path / "data", {"cat": 10, "dog": 10}, seeds)
    seen: list[bool] = []
    real = scan_module.assemble_manifest

    def spy(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kw)

    monkeypatch.setattr(scan_module, "assemble_manifest", spy)
    scan(spec_for("folder", tmp_path / "data"), tmp_path)
    assert seen == [False] and gc.isenabled()

    from edgeops import gcpause

    with gcpause.paused():  # a worker forked from a paused scan collects its own garbage
        assert (
            parallel.map_processes(collector_enabled, [1, 2, 3], processes=2, minimum=0)
            == [True] * 3
        )
