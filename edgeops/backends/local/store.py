"""Content-addressed file store: ``<root>/<sha[:2]>/<sha>``, written atomically."""

from __future__ import annotations

from pathlib import Path

from edgeops.files import atomic_write, sha256_bytes


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, sha256: str, data: bytes) -> bool:
        """Store ``data`` under its hash; returns False when it was already there."""
        if self.has(sha256):
            return False
        actual = sha256_bytes(data)
        if actual != sha256:
            raise ValueError(f"content changed while importing: expected {sha256}, got {actual}")
        atomic_write(self.path(sha256), data)
        return True
