"""The content-addressed store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edgeops.backends.local.store import BlobStore


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
