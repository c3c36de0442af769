"""The content-addressed store and atomic writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edgeops.backends.local.store import BlobStore, atomic_write


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "plan.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]


def test_atomic_write_that_fails_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_put_stores_by_hash_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    data = b"\x89PNG fake image"
    sha = hashlib.sha256(data).hexdigest()
    assert not store.has(sha)
    assert store.put(sha, data) is True
    assert store.path(sha) == tmp_path / "store" / sha[:2] / sha
    assert store.path(sha).read_bytes() == data
    assert store.put(sha, data) is False
    assert [p.name for p in store.path(sha).parent.iterdir()] == [sha]


def test_put_refuses_content_that_does_not_match_its_hash(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "store")
    sha = hashlib.sha256(b"what was scanned").hexdigest()
    with pytest.raises(ValueError, match="content changed while importing"):
        store.put(sha, b"what is there now")
    assert not store.has(sha)
