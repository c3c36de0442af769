"""Atomic writes and file hashes (edgeops/files.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edgeops.files import atomic_write, sha256_bytes, sha256_file


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


def test_sha256_of_a_file_is_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8193  # more than one 1 MiB chunk
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data) == hashlib.sha256(data).hexdigest()
