"""CSV sources whose rows name ``gs://`` objects: planned and imported without downloading.

The scanner hands these rows to ``GcsRows.inspect`` (the ``RemoteReader`` hook of
``edgeops.datasets.scan``). Objects are listed, not read: one ``list_blobs`` per folder
(``prefix`` = the folder, ``delimiter="/"``), never one request per row. Each row is checked
against what Vertex AI can import (it must exist, hold at most 30 MB, and be a JPEG, GIF, PNG,
BMP or ICO image by its content type: ``rules.VERTEX_FORMATS``, the same rule local images meet).

Identity: the bytes are never read, so a gs:// row's content hash is not known. Its key in the
manifest (where a local image has its SHA-256) is the SHA-256 of ``(uri, generation, md5)``:
the object's generation changes whenever it is overwritten, and its MD5 (or CRC32C for
composite objects) pins the content. So for gs:// rows the dataset fingerprint covers
(uri, generation, md5) instead of the bytes: re-uploading the same bytes plans an update, and
the same image under two URIs counts twice. The import CSV references these URIs directly
(nothing is copied into edgeops' bucket); Vertex AI's service agent needs read access to their
buckets.

``GcsRows.read`` is the one place the bytes are read: ``edgeops review`` shows a gs:// row's
thumbnail from them, and only while the object still has the identity it was scanned with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from edgeops.backends.google.rules import format_problem
from edgeops.datasets.csv_index import Row
from edgeops.datasets.images import MAX_IMAGE_BYTES, Inspection, size_error
from edgeops.datasets.problems import Problems

# content type -> the format name a local scan would report (Pillow's), for the formats Vertex AI
# trains on (rules.VERTEX_FORMATS)
FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/x-icon": "ICO",
    "image/vnd.microsoft.icon": "ICO",
}
IDENTITY_VERSION = "edgeops-gs-object-v1"


def object_key(uri: str, generation: int, md5: str) -> str:
    """The manifest key of a gs:// row: SHA-256 over (uri, generation, md5)."""
    text = f"{IDENTITY_VERSION}\n{uri}\n{generation}\n{md5}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def _split(uri: str) -> tuple[str, str, str]:
    """``gs://b/a/x.jpg`` -> (bucket ``b``, folder prefix ``a/``, object name ``a/x.jpg``)."""
    bucket, _, name = uri[5:].partition("/")
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    return bucket, folder, name


class GcsRows:
    """Validates and identifies gs:// rows of a csv source from object listings."""

    scheme = "gs://"

    def __init__(self, storage_client: Callable[[], Any]) -> None:
        self._client_factory = storage_client  # called on the first gs:// row only
        self.listings = 0  # list_blobs calls made (tests check one per folder)

    def inspect(self, rows: list[Row], problems: Problems) -> dict[str, Inspection]:
        from google.api_core import exceptions as gexc

        folders: dict[tuple[str, str], list[Row]] = {}
        for row in rows:
            bucket, folder, name = _split(row.path)
            if not bucket or not name or name.endswith("/"):
                problems.add(row.where, f"{row.path}: not a gs://bucket/path/image URI")
                continue
            folders.setdefault((bucket, folder), []).append(row)
        accepted: dict[str, Inspection] = {}
        client: Any = self._client_factory() if folders else None
        for (bucket, folder), group in sorted(folders.items()):
            try:
                self.listings += 1
                blobs = {b.name: b for b in client.list_blobs(bucket, prefix=folder, delimiter="/")}
            except gexc.NotFound:
                for row in group:
                    problems.add(row.where, f"{row.path}: bucket gs://{bucket} does not exist")
                continue
            except gexc.Forbidden:
                problems.add(
                    group[0].where,
                    f"{group[0].path}: permission denied listing gs://{bucket}/{folder}; grant "
                    "the credentials roles/storage.objectViewer on the bucket",
                )
                continue
            for row in group:
                insp, why = self._check(row.path, blobs.get(_split(row.path)[2]))
                if why:
                    problems.add(row.where, why)
                elif insp is not None:
                    accepted[row.path] = insp
        return accepted

    def read(self, uri: str, key: str) -> bytes | None:
        """The object's bytes while its identity is still ``key`` (``object_key``); None when
        it is gone, unreadable or overwritten since the scan (the caller rescans)."""
        from google.api_core import exceptions as gexc
        from google.auth import exceptions as auth_exc

        bucket, _, name = _split(uri)
        if not bucket or not name:
            return None
        try:
            blob = self._client_factory().bucket(bucket).get_blob(name)
            if blob is None or self._key(uri, blob) != key or int(blob.size or 0) > MAX_IMAGE_BYTES:
                return None
            data: bytes = blob.download_as_bytes(if_generation_match=blob.generation)
        except (gexc.GoogleAPIError, auth_exc.GoogleAuthError, OSError):
            return None  # missing, forbidden, overwritten meanwhile (412), or the network
        return data

    @staticmethod
    def _key(uri: str, blob: Any) -> str:
        return object_key(uri, int(blob.generation), blob.md5_hash or blob.crc32c or "")

    @staticmethod
    def _check(uri: str, blob: Any) -> tuple[Inspection | None, str]:
        if blob is None:
            return None, f"{uri}: no such object in Cloud Storage; fix the URI or upload it"
        size = int(blob.size or 0)
        err = size_error(size)
        if err:
            return None, f"{uri}: {err}"
        ctype = (blob.content_type or "").split(";")[0].strip().lower()
        if not ctype.startswith("image/"):
            return None, (
                f"{uri}: content type '{ctype or 'none'}' is not an image; upload it with an "
                "image/* content type (e.g. gcloud storage objects update --content-type)"
            )
        fmt = FORMATS.get(ctype)
        if fmt is None:
            return None, f"{uri}: {format_problem(ctype)}"
        return Inspection(size=size, sha256=GcsRows._key(uri, blob), format=fmt), ""
