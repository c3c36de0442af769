"""Content-addressed file store: ``<root>/<sha[:2]>/<sha>``, written atomically.

With state in a bucket (``remote``), the bucket's ``store/`` is the truth and ``root`` this
machine's copy: ``has`` asks the bucket (one listing per command), ``put`` uploads once, and
``path`` fetches an object this machine does not have yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgeops.files import atomic_write, sha256_bytes

if TYPE_CHECKING:
    from edgeops.backends.local.remote import RemoteState


class BlobStore:
    def __init__(self, root: Path, remote: RemoteState | None = None) -> None:
        self.root = root
        self.remote = remote

    def local_path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def path(self, sha256: str) -> Path:
        """The object's file on this machine (fetched from the bucket when needed)."""
        path = self.local_path(sha256)
        if self.remote is not None and not path.is_file():
            self.remote.fetch_blob(sha256, path)
        return path

    def has(self, sha256: str) -> bool:
        if self.remote is not None:
            return self.remote.has_blob(sha256)
        return self.local_path(sha256).is_file()

    def put(self, sha256: str, data: bytes) -> bool:
        """Store ``data`` under its hash; returns False when it was already there."""
        if self.has(sha256):
            return False
        actual = sha256_bytes(data)
        if actual != sha256:
            raise ValueError(f"content changed while importing: expected {sha256}, got {actual}")
        path = self.local_path(sha256)
        atomic_write(path, data)
        if self.remote is not None:
            self.remote.put_blob(sha256, path)
        return True
