"""The object-store contract: a few verbs over keys, each write optionally conditional.

A store is a folder, an S3 bucket prefix (AWS or any S3-compatible endpoint) or a Cloud Storage
bucket prefix. Keys are ``/``-separated paths relative to the store's prefix. Every object has
an opaque version token, its *etag* (S3's ETag, Cloud Storage's generation, a folder's
inode/mtime/size stamp): a write can be made conditional on it (``if_match``) or on the key not
existing yet (``if_absent``); a condition that does not hold raises PreconditionFailed and
writes nothing. That is all the local backend needs for a compare-and-swap state document,
content-addressed images uploaded once, and a lease lock.

``store.requests`` counts requests by verb (get, head, put, list, delete). For buckets they
are counted on the wire by the client (every HTTP request, retries and pages included); for a
folder, one per call.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from edgeops.errors import EdgeopsError

VERBS = ("get", "head", "put", "list", "delete")


class Requests(Counter[str]):
    """Requests made, by verb; safe to count from several threads (a lease's heartbeat)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, verb: str) -> None:
        with self._lock:
            self[verb] += 1


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str


class PreconditionFailed(EdgeopsError):
    """A conditional write or delete found the object not as expected; nothing was written."""

    def __init__(self, where: str, *, expected: str | None) -> None:
        self.where = where
        self.expected = expected  # the etag the caller had read; None for a create-only write
        if expected is None:
            message = f"{where} already exists (someone else created it meanwhile)"
        else:
            message = (
                f"{where} was changed or removed by someone else since it was read "
                f"(expected version {expected})"
            )
        super().__init__(message + "; nothing was written")


class ObjectStore(Protocol):
    url: str  # for messages: s3://bucket/prefix, gs://bucket/prefix or the folder's path
    requests: Requests  # requests made, by verb

    # The object's bytes and etag, or None when it does not exist. One request.
    def get(self, key: str) -> Blob | None: ...

    # The object's etag, or None when it does not exist. One request.
    def head(self, key: str) -> str | None: ...

    # Write an object, only if it is at ``if_match`` / does not exist yet; returns the new etag.
    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str: ...

    # put() from a file, streamed (model files).
    def put_file(
        self, key: str, path: Path, *, if_match: str | None = None, if_absent: bool = False
    ) -> str: ...

    # Download to ``path`` atomically (a temp file beside it, renamed); its etag or None.
    def get_file(self, key: str, path: Path) -> str | None: ...

    # Delete an object (absent is fine), only if it is at ``if_match`` when given.
    def delete(self, key: str, *, if_match: str | None = None) -> None: ...

    # key -> etag of every object whose key starts with ``prefix``: one request per page.
    def list(self, prefix: str = "") -> dict[str, str]: ...


class BucketStore:
    """What the bucket stores share: where they point, object names, and the request count."""

    scheme = ""  # "s3" or "gs"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        page_size: int = 1000,
    ) -> None:
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.page_size = page_size  # keys per list request (1000 is both services' maximum)
        self.url = str(StoreURL(self.scheme, bucket, self.prefix))
        self.requests = Requests()

    @property
    def base(self) -> str:
        """What every object name of this store begins with."""
        return f"{self.prefix}/" if self.prefix else ""

    def name(self, key: str) -> str:
        return self.base + check_key(key)

    def where(self, key: str) -> str:
        return f"{self.url}/{key}"


# --- URLs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreURL:
    scheme: str  # "s3", "gs" or "file"
    bucket: str  # "" for a folder
    prefix: str  # no leading or trailing "/"; the folder's path for "file"

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.prefix
        return f"{self.scheme}://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


def parse_url(url: str | Path) -> StoreURL:
    """``s3://bucket/prefix``, ``gs://bucket/prefix`` or a folder path (anything else)."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return StoreURL("file", "", text)
    if scheme not in ("s3", "gs"):
        raise EdgeopsError(
            f"{text}: unsupported state location; use a folder, s3://BUCKET/PREFIX "
            "(AWS or an S3-compatible endpoint) or gs://BUCKET/PREFIX"
        )
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise EdgeopsError(
            f"{text}: '{bucket}' is not a valid bucket name (3-63 characters: lowercase letters, "
            "digits, '.', '-' and '_', starting and ending with a letter or digit)"
        )
    prefix = prefix.strip("/")
    if prefix:
        check_key(prefix)
    return StoreURL(scheme, bucket, prefix)


def check_key(key: str) -> str:
    """A key is ``/``-separated names, none empty, ``.``/``..`` or starting with ``.`` (those are
    the folder store's own); returns it. A bad key is a bug in the caller, not a user error."""
    parts = key.split("/")
    if not key or any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A list() prefix: a key, a key's beginning, or a folder ending in ``/`` (or empty)."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_condition(if_match: str | None, if_absent: bool) -> None:
    if if_match is not None and if_absent:
        raise ValueError("if_match and if_absent exclude each other")


def download_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` via a temp file beside it, renamed into place once complete: a reader
    (or a crash) never leaves half a model file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
