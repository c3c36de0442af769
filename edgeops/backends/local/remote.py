"""The local backend's state in a bucket, and this machine's working copy of it.

With ``backend.local.path: s3://…`` or ``gs://…`` the bucket holds the truth, laid out like the
state folder::

    registry.sqlite             the registry: one document, written with compare-and-swap on
                                its ETag/generation after every committed step
    store/ab/<sha256>           images and model files (.tflite, labels), content-addressed,
                                uploaded once (an object that is there is never sent again)
    models/<name>/v<N>/<doc>    a version's evaluation.json, model_card.json and report.html
    lock.json                   the apply lease, kept alive by a heartbeat

This machine works in a copy under its cache folder (``backend.local.path`` as configured
resolves there): the registry as last read or written, the images and model files it has
needed, and derived caches. The copy is never the truth: its registry is replaced by the bucket's
whenever they differ, and a step that committed here but could not be written to the bucket (a
lost race, a kill) is dropped on the next read, so the bucket is always a consistent state and
the next apply, from any machine, converges.

Order of writes: objects first, then the registry that names them; so a crash leaves at most
objects nobody references yet (content-addressed: the next apply reuses them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from edgeops.config.model import LocalBackendSpec
from edgeops.errors import EdgeopsError
from edgeops.files import atomic_write
from edgeops.objectstore import ObjectStore, PreconditionFailed, open_store
from edgeops.objectstore import lease as leases

REGISTRY = "registry.sqlite"
ETAG_FILE = "registry.etag"  # the bucket's etag of the registry this copy holds; absent: stale
VERSION_DOCS = ("evaluation.json", "model_card.json", "report.html")


def blob_key(sha256: str) -> str:
    return f"store/{sha256[:2]}/{sha256}"


def doc_key(model: str, version: int, name: str) -> str:
    return f"models/{model}/v{version}/{name}"


class RemoteState:
    def __init__(self, spec: LocalBackendSpec, store: ObjectStore | None = None) -> None:
        self.spec = spec
        self.root = spec.path  # this machine's working copy
        self.store = store or open_store(spec.url, endpoint_url=spec.endpoint_url)
        self.lease: leases.Lease | None = None
        self._blobs: set[str] | None = None  # store/ keys known to be in the bucket

    @property
    def url(self) -> str:
        return self.store.url

    # --- the registry document -----------------------------------------------------------------

    @property
    def registry_path(self) -> Path:
        return self.root / REGISTRY

    def _copy_etag(self) -> str | None:
        try:
            return (self.root / ETAG_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def pull(self) -> bool:
        """Make the working copy's registry the bucket's (one request when it already is).
        Returns True when the file was replaced or removed (open connections are stale)."""
        etag = self.store.head(REGISTRY)
        have = self._copy_etag()
        if etag is not None and etag == have and self.registry_path.exists():
            return False
        self._drop_copy()
        if etag is None:
            return True  # nothing applied to this bucket yet
        blob = self.store.get(REGISTRY)
        if blob is None:
            return True  # removed between the two requests
        atomic_write(self.registry_path, blob.data)
        atomic_write(self.root / ETAG_FILE, blob.etag.encode())
        return True

    def _drop_copy(self) -> None:
        (self.root / ETAG_FILE).unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.registry_path}{suffix}").unlink(missing_ok=True)

    def push(self, db: sqlite3.Connection) -> None:
        """Write the registry just committed here to the bucket, only over the version this
        copy was read from: a lost race is an error naming what changed, never a lost update."""
        if self.lease is not None:
            self.lease.check()
        have = self._copy_etag()
        (self.root / ETAG_FILE).unlink(missing_ok=True)  # the copy is ahead of the bucket now
        data = db.serialize()
        try:
            if have is None:
                etag = self.store.put(REGISTRY, data, if_absent=True)
            else:
                etag = self.store.put(REGISTRY, data, if_match=have)
        except PreconditionFailed:
            raise EdgeopsError(
                f"{self.url}/{REGISTRY}: the state was changed by another edgeops since this "
                "command read it (an apply without the lock, or one that took over a lock this "
                "command had lost); nothing of this step was written. Run `edgeops plan` again: "
                "it reads the state as it is now."
            ) from None
        atomic_write(self.root / ETAG_FILE, etag.encode())

    # --- content-addressed objects -------------------------------------------------------------

    def _known(self) -> set[str]:
        if self._blobs is None:
            self._blobs = set(self.store.list("store/"))
        return self._blobs

    def has_blob(self, sha256: str) -> bool:
        """Whether the bucket holds the object (one listing per command, not one request per
        object)."""
        return blob_key(sha256) in self._known()

    def put_blob(self, sha256: str, path: Path) -> None:
        key = blob_key(sha256)
        if key in self._known():
            return
        with suppress(PreconditionFailed):  # someone uploaded the same bytes meanwhile
            self.store.put_file(key, path, if_absent=True)
        self._known().add(key)

    def fetch_blob(self, sha256: str, path: Path) -> None:
        if self.store.get_file(blob_key(sha256), path) is None:
            raise EdgeopsError(
                f"{self.url}/{blob_key(sha256)}: missing from the bucket, though the registry "
                "names it; the bucket was edited outside edgeops"
            )

    # --- model versions ------------------------------------------------------------------------

    def put_version(self, model: str, version: int, folder: Path, files: Mapping[str, str]) -> None:
        """Upload a version's model files (by content) and its documents (by version)."""
        for name, sha in files.items():
            self.put_blob(sha, folder / name)
        for name in VERSION_DOCS:
            if (folder / name).exists():
                self.store.put_file(doc_key(model, version, name), folder / name)

    def put_doc(self, model: str, version: int, path: Path) -> None:
        self.store.put_file(doc_key(model, version, path.name), path)

    def fetch_version(
        self, model: str, version: int, folder: Path, files: Mapping[str, str]
    ) -> None:
        """The version's files into ``folder`` (those not there yet)."""
        for name, sha in files.items():
            if not (folder / name).exists():
                self.fetch_blob(sha, folder / name)
        for name in VERSION_DOCS:
            if not (folder / name).exists():
                self.store.get_file(doc_key(model, version, name), folder / name)

    def delete_version(self, model: str, version: int) -> None:
        for name in VERSION_DOCS:
            self.store.delete(doc_key(model, version, name))

    # --- the lock ------------------------------------------------------------------------------

    @contextmanager
    def locked(self, command: str) -> Iterator[leases.Lease]:
        lock = self.spec.lock
        with leases.Lease(
            self.store,
            f"edgeops {command}",
            stale_after=lock.stale_after_seconds,
            heartbeat_every=lock.heartbeat_seconds,
        ) as lease:
            self.lease = lease
            try:
                yield lease
            finally:
                self.lease = None

    def force_unlock(self) -> dict[str, Any] | None:
        return leases.force_unlock(self.store)
