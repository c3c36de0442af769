"""edgeops' own records in the bucket: JSON objects under ``<prefix>/state/``, images under
``<prefix>/images/<sha256>.<ext>``, model files under ``<prefix>/models/<name>/v<N>/``.

Every state write carries a generation precondition (``if_generation_match``: 0 to create, the
generation read to replace), so two writers can never silently overwrite each other; the loser
gets an EdgeopsError telling it to plan again. ``read()`` needs nothing but this bucket.

While an apply holds the lock, ``before_write`` is its lease's ``check``: every write below
(state records, images, model files, published objects, deletes) first makes sure the lock is
still ours, so an apply whose lock was taken over stops before writing anything more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from edgeops.errors import EdgeopsError

EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "BMP": "bmp",
    "ICO": "ico",
    "WEBP": "webp",
}


@dataclass(frozen=True)
class Record:
    """A JSON state object as read, with the generation to write it back against."""

    name: str
    data: dict[str, Any]
    generation: int  # 0 when the object does not exist yet


def split_gs(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/path`` -> (``bucket``, ``some/path``)."""
    if not uri.startswith("gs://") or "/" not in uri[5:]:
        raise EdgeopsError(f"{uri}: not a gs://bucket/path URI")
    bucket, _, path = uri[5:].partition("/")
    return bucket, path


class StateBucket:
    def __init__(self, storage_client: Any, bucket: str, prefix: str) -> None:
        self.client = storage_client
        self.name = bucket
        self.prefix = prefix.strip("/")
        self._bucket: Any = None
        self.before_write: Callable[[], None] | None = None  # raises when the lock was lost

    def _check(self) -> None:
        if self.before_write is not None:
            self.before_write()

    @property
    def bucket(self) -> Any:
        if self._bucket is None:
            self._bucket = self.client.bucket(self.name)
        return self._bucket

    def path(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def uri(self, *parts: str) -> str:
        return f"gs://{self.name}/{self.path(*parts)}"

    def check_exists(self) -> None:
        from google.api_core import exceptions as gexc

        try:
            found = self.client.lookup_bucket(self.name)
        except gexc.Forbidden:
            raise EdgeopsError(
                f"gs://{self.name}: permission denied; grant the credentials "
                "roles/storage.objectAdmin on the bucket"
            ) from None
        if found is None:
            raise EdgeopsError(
                f"gs://{self.name}: no such bucket; create it in the backend's location, e.g.\n"
                f"  gcloud storage buckets create gs://{self.name} --location=REGION "
                "--uniform-bucket-level-access"
            )

    # --- JSON state --------------------------------------------------------------------------

    def read_json(self, *parts: str) -> Record:
        name = self.path(*parts)
        blob = self.bucket.get_blob(name)
        if blob is None:
            return Record(name, {}, 0)
        return Record(name, json.loads(blob.download_as_bytes()), int(blob.generation))

    def write_json(self, record: Record, data: dict[str, Any]) -> Record:
        """Writes ``data`` where ``record`` was read, failing if anyone wrote it meanwhile."""
        self._check()
        from google.api_core import exceptions as gexc

        blob = self.bucket.blob(record.name)
        body = json.dumps(data, indent=1, sort_keys=True).encode()
        try:
            blob.upload_from_string(
                body, content_type="application/json", if_generation_match=record.generation
            )
        except gexc.PreconditionFailed:
            raise EdgeopsError(
                f"gs://{self.name}/{record.name} was changed by someone else meanwhile; "
                "run `edgeops plan` again"
            ) from None
        return Record(record.name, data, int(blob.generation or 0))

    def delete(self, *parts: str) -> None:
        self._check()
        from google.api_core import exceptions as gexc

        with suppress(gexc.NotFound):
            self.bucket.blob(self.path(*parts)).delete()

    def list_json(self, *parts: str) -> Iterator[Record]:
        folder = self.path(*parts) + "/"
        for blob in self.client.list_blobs(self.name, prefix=folder):
            if blob.name.endswith(".json"):
                yield Record(blob.name, json.loads(blob.download_as_bytes()), int(blob.generation))

    # --- content-addressed images --------------------------------------------------------------

    def image_name(self, sha256: str, fmt: str) -> str:
        return self.path("images", f"{sha256}.{EXTENSIONS.get(fmt.upper(), 'img')}")

    def existing_images(self) -> set[str]:
        """Object names under ``<prefix>/images/`` (listed once per import)."""
        return {b.name for b in self.client.list_blobs(self.name, prefix=self.path("images") + "/")}

    def upload(self, name: str, data: bytes, content_type: str) -> None:
        self._check()
        from google.api_core import exceptions as gexc

        # content-addressed: an object already there holds the same bytes
        with suppress(gexc.PreconditionFailed):
            self.bucket.blob(name).upload_from_string(
                data, content_type=content_type, if_generation_match=0
            )

    def put_bytes(self, name: str, data: bytes, content_type: str) -> None:
        self._check()
        self.bucket.blob(name).upload_from_string(data, content_type=content_type)

    def get_bytes(self, uri: str) -> bytes:
        bucket, name = split_gs(uri)
        return bytes(self.client.bucket(bucket).blob(name).download_as_bytes())

    def list_uris(self, uri: str) -> list[str]:
        bucket, name = split_gs(uri)
        return [f"gs://{bucket}/{b.name}" for b in self.client.list_blobs(bucket, prefix=name)]

    def write_uri(self, uri: str, data: bytes, content_type: str) -> int:
        self._check()
        bucket, name = split_gs(uri)
        blob = self.client.bucket(bucket).blob(name)
        blob.upload_from_string(data, content_type=content_type)
        return int(blob.generation or 0)

    def stat_uri(self, uri: str) -> tuple[str, int] | None:
        """(md5 hash, generation) of an object, or None when it is gone."""
        bucket, name = split_gs(uri)
        blob = self.client.bucket(bucket).get_blob(name)
        return None if blob is None else (str(blob.md5_hash), int(blob.generation))

    def delete_uri(self, uri: str, generation: int | None = None) -> None:
        self._check()
        from google.api_core import exceptions as gexc

        bucket, name = split_gs(uri)
        with suppress(gexc.NotFound, gexc.PreconditionFailed):
            self.client.bucket(bucket).blob(name).delete(if_generation_match=generation)
