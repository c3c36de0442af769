"""The hash cache: an unchanged source is not re-read; a changed file or member is."""

from __future__ import annotations

import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from edgeops.datasets import images, zipsource
from edgeops.datasets.images import Inspection
from edgeops.errors import DatasetError

from .conftest import Seeds, image_bytes, make_label_tree, scan, spec_for, tree_members, write_zip


class CountingInspect:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.real = images.inspect_path  # taken before the spy replaces it

    def __call__(self, path: str) -> tuple[object, ...]:
        self.paths.append(path)
        return self.real(path)


def test_unchanged_folder_reads_no_file_bytes(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "data"
    tree = make_label_tree(base, {"cat": 30, "dog": 30}, seeds)
    spec = spec_for("folder", base)
    spy = CountingInspect()
    monkeypatch.setattr("edgeops.datasets.images.inspect_path", spy)
    first = scan(spec, tmp_path)
    assert len(spy.paths) == 60

    def no_read(path: str) -> tuple[object, ...]:
        raise AssertionError(f"read {path} although it is cached")

    monkeypatch.setattr("edgeops.datasets.images.inspect_path", no_read)
    real_open = open

    def guarded_open(file: object, mode: str = "r", *args: object, **kw: object) -> object:
        if str(file).endswith(".png"):
            raise AssertionError(f"opened {file}")
        return real_open(file, mode, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", guarded_open)
    second = scan(spec, tmp_path)
    monkeypatch.undo()
    assert second == first

    # A changed file (new content, new size/mtime) is read again, and only that one.
    spy = CountingInspect()
    monkeypatch.setattr("edgeops.datasets.images.inspect_path", spy)
    changed = tree["cat"][3]
    changed.write_bytes(image_bytes(10_000, size=(9, 9)))
    third = scan(spec, tmp_path)
    assert spy.paths == [str(changed)]
    assert third.fingerprint() != first.fingerprint()


def test_rejections_are_cached_too(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    (base / "cat" / "notes.jpg").write_text("not an image")
    spec = spec_for("folder", base)
    with pytest.raises(DatasetError) as first:
        scan(spec, tmp_path)
    spy = CountingInspect()
    monkeypatch.setattr("edgeops.datasets.images.inspect_path", spy)
    with pytest.raises(DatasetError) as second:
        scan(spec, tmp_path)
    assert spy.paths == []
    assert str(first.value) == str(second.value)


def test_unchanged_zip_is_not_opened(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    z = write_zip(tmp_path / "d.zip", tree_members({"cat": 30, "dog": 30}, seeds))
    spec = spec_for("zip", z)
    first = scan(spec, tmp_path)

    def no_open(*args: object, **kw: object) -> zipfile.ZipFile:
        raise AssertionError("opened the zip although it is cached")

    monkeypatch.setattr(zipsource.zipfile, "ZipFile", no_open)
    assert scan(spec, tmp_path) == first


def test_changed_zip_rereads_only_new_members(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = tree_members({"cat": 30, "dog": 30}, seeds)
    z = write_zip(tmp_path / "d.zip", members)
    spec = spec_for("zip", z)
    first = scan(spec, tmp_path)

    write_zip(z, [*members, ("dog/extra.png", image_bytes(seeds()))])
    read: list[str] = []
    real = zipsource._Reader.inspect

    def spy(self: zipsource._Reader, info: zipfile.ZipInfo) -> Inspection:
        read.append(info.filename)
        return real(self, info)

    monkeypatch.setattr(zipsource._Reader, "inspect", spy)
    second = scan(spec, tmp_path)
    assert read == ["dog/extra.png"]
    assert len(second.images) == len(first.images) + 1


def test_corrupt_cache_is_not_an_error(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    cache = tmp_path / ".edgeops" / "cache.sqlite"
    cache.parent.mkdir()
    cache.write_bytes(b"this is not sqlite" * 100)
    from edgeops.datasets import scan_dataset
    from edgeops.progress import NullReporter

    reporter = NullReporter()
    m = scan_dataset(spec_for("folder", base), root=tmp_path, cache_path=cache, reporter=reporter)
    assert len(m.images) == 20
    assert reporter.warnings and "scanning without it" in reporter.warnings[0]


def test_cache_rows_of_deleted_files_are_forgotten(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    tree = make_label_tree(base, {"cat": 11, "dog": 10}, seeds)
    spec = spec_for("folder", base)
    scan(spec, tmp_path)
    os.remove(tree["cat"][0])
    scan(spec, tmp_path)
    from edgeops.datasets.hashcache import HashCache

    with HashCache(tmp_path / ".edgeops" / "cache.sqlite") as cache:
        kept = cache.load_files(os.fspath(base))
    assert len(kept) == 20
    assert str(tree["cat"][0]) not in kept


def test_cache_write_failure_is_a_warning(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeops.datasets import scan_dataset
    from edgeops.datasets.hashcache import HashCache
    from edgeops.progress import NullReporter

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(HashCache, "_store_files", fail)
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    reporter = NullReporter()
    m = scan_dataset(
        spec_for("folder", base), root=tmp_path, cache_path=tmp_path / "c.db", reporter=reporter
    )
    assert len(m.images) == 20
    assert reporter.warnings == [
        "hash cache unusable (disk I/O error); the next scan re-reads files"
    ]


def test_an_interrupted_scan_keeps_what_it_read(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inspections reach the cache in batches while the scan goes on, and what is pending when
    it is interrupted is kept then: the next scan reads only the rest."""
    from edgeops.datasets import parallel
    from edgeops.datasets import scan as scan_module

    base = tmp_path / "data"
    make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    spec = spec_for("folder", base)
    monkeypatch.setattr(parallel, "CHUNK", 4)  # inspected 4 at a time, kept from 8 on
    monkeypatch.setattr(scan_module._CacheKeeper, "BATCH", 8)  # stored twice
    real = scan_module.inspect_paths
    calls: list[int] = []

    def interrupted(paths: list[str]) -> list[tuple[object, ...]]:
        calls.append(len(paths))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(paths)

    monkeypatch.setattr(scan_module, "inspect_paths", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan(spec, tmp_path)
    assert calls == [4, 4, 4, 4]

    spy = CountingInspect()
    monkeypatch.setattr(scan_module, "inspect_paths", real)
    monkeypatch.setattr("edgeops.datasets.images.inspect_path", spy)
    manifest = scan(spec, tmp_path)
    assert len(manifest.images) == 24
    assert len(spy.paths) == 24 - 12  # the 3 chunks read before the interrupt were kept
    monkeypatch.undo()
    assert scan(spec, tmp_path, cache="fresh.sqlite") == manifest  # as a scan from scratch


def test_a_large_first_scan_stores_a_bounded_number_of_batches(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches grow with the scan (at most BATCHES of them), so one scan never makes the cache
    rewrite a scope as one (past hashcache.MAX_SETS), which holds every row in memory."""
    from edgeops.datasets import hashcache
    from edgeops.datasets import scan as scan_module

    base = tmp_path / "data"
    make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    from edgeops.datasets import parallel

    monkeypatch.setattr(parallel, "CHUNK", 4)  # read 4 at a time
    monkeypatch.setattr(scan_module._CacheKeeper, "BATCH", 2)
    monkeypatch.setattr(scan_module._CacheKeeper, "BATCHES", 3)
    monkeypatch.setattr(hashcache, "MAX_SETS", 3)
    rewrites: list[int] = []
    real_batch = hashcache._batch

    def counting_batch(rows: object, forget: object) -> dict[str, object]:
        out = real_batch(rows, forget)  # type: ignore[arg-type]
        rewrites.append(len(out["path"]))
        return out

    monkeypatch.setattr(hashcache, "_batch", counting_batch)
    manifest = scan(spec_for("folder", base), tmp_path)
    assert len(manifest.images) == 24
    assert rewrites == [8, 8, 8]  # 24 files in 3 batches of 8, none rewritten
    db = sqlite3.connect(tmp_path / ".edgeops" / "cache.sqlite")
    (n,) = db.execute("SELECT COUNT(*) FROM file_sets").fetchone()
    db.close()
    assert n == 3
