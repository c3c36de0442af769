"""The per-file cache's storage: batches of columns, later ones winning, rewritten as one."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from edgeops.datasets import hashcache
from edgeops.datasets.hashcache import CachedFile, HashCache
from edgeops.datasets.images import Inspection
from edgeops.datasets.sources import FileStat

SCOPE = "/data/photos"


def row(name: str, sha: str, *, size: int = 10, error: str = "") -> tuple[str, tuple[Any, ...]]:
    """A file's row as a reader makes it: (path, (size, mtime_ns, inode, *Inspection))."""
    st = FileStat(f"{SCOPE}/{name}", size, 1_700_000_000_000_000_000 + size, 1000 + size)
    insp = Inspection(size=size, error=error) if error else Inspection(size, sha, "PNG", 4, 3)
    return st.path, (*st[1:], *insp)


def batches(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        (n,) = db.execute("SELECT COUNT(*) FROM file_sets").fetchone()
    finally:
        db.close()
    return int(n)


def test_files_round_trip_with_their_stats_and_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    rows = [row("a.png", "a" * 64, size=5), row("b.png", "", size=7, error="not an image; fix")]
    with HashCache(path) as cache:
        cache.store_files(SCOPE, rows)
        cache.store_files("/elsewhere", [row("c.png", "c" * 64)])
    with HashCache(path) as cache:
        kept = cache.load_files(SCOPE)
    mtime_a, mtime_b = rows[0][1][1], rows[1][1][1]
    assert kept == {
        f"{SCOPE}/a.png": CachedFile(5, mtime_a, 1005, "a" * 64, "PNG", 4, 3, ""),
        f"{SCOPE}/b.png": CachedFile(7, mtime_b, 1007, "", "", 0, 0, "not an image; fix"),
    }
    assert kept[f"{SCOPE}/a.png"].matches(FileStat(rows[0][0], *rows[0][1][:3]))
    assert kept[f"{SCOPE}/a.png"].inspection == Inspection(*rows[0][1][3:])


def test_a_later_batch_wins_and_forgets(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with HashCache(path) as cache:
        cache.store_files(SCOPE, [row("a.png", "1" * 64), row("b.png", "2" * 64)])
        cache.store_files(SCOPE, [row("a.png", "3" * 64, size=11)], forget=[f"{SCOPE}/b.png"])
        cache.store_files(SCOPE, [], forget=[])  # nothing: no batch
        kept = cache.load_files(SCOPE)
    assert set(kept) == {f"{SCOPE}/a.png"}
    assert (kept[f"{SCOPE}/a.png"].sha256, kept[f"{SCOPE}/a.png"].size) == ("3" * 64, 11)
    assert batches(path) == 2


def test_past_max_sets_a_scope_is_rewritten_as_one_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "MAX_SETS", 4)
    path = tmp_path / "cache.sqlite"
    with HashCache(path) as cache:
        for i in range(4):
            cache.store_files(SCOPE, [row(f"{i}.png", f"{i}" * 64), row("same.png", f"{i}" * 64)])
        before = cache.load_files(SCOPE)
        assert batches(path) == 4
        cache.store_files(SCOPE, [row("4.png", "4" * 64)], forget=[f"{SCOPE}/0.png"])
        after = cache.load_files(SCOPE)
    assert batches(path) == 1
    expected = {k: v for k, v in before.items() if k != f"{SCOPE}/0.png"}
    expected[f"{SCOPE}/4.png"] = after[f"{SCOPE}/4.png"]
    assert after == expected
    assert after[f"{SCOPE}/same.png"].sha256 == "3" * 64


def test_file_names_that_are_not_utf8_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    name, fields = row("caf\udce9.png", "e" * 64)  # os.fsdecode of a Latin-1 name
    with HashCache(path) as cache:
        cache.store_files(SCOPE, [(name, fields)])
        assert cache.load_files(SCOPE)[name].sha256 == "e" * 64


def test_a_batch_this_version_cannot_read_means_reading_every_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with HashCache(path) as cache:
        cache.store_files(SCOPE, [row("a.png", "a" * 64)])
    db = sqlite3.connect(path)
    db.execute("INSERT INTO file_sets VALUES (?, 2, ?)", (SCOPE, '{"path": ["x"]}'))
    db.commit()
    db.close()
    with HashCache(path) as cache:
        assert cache.load_files(SCOPE) == {}
        assert cache.problem == ""  # a cache miss, not a failure


def test_a_cache_of_the_previous_schema_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE files (scope TEXT, path TEXT, size INTEGER); "
        "INSERT INTO files VALUES ('/data/photos', '/data/photos/a.png', 1); "
        "PRAGMA user_version = 1;"
    )
    db.close()
    with HashCache(path) as cache:
        assert cache.load_files(SCOPE) == {}
        cache.store_files(SCOPE, [row("a.png", "a" * 64)])
        assert len(cache.load_files(SCOPE)) == 1
    db = sqlite3.connect(path)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert "files" not in tables
