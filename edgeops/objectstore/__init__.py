"""Where state lives: a folder, an S3 bucket prefix or a Cloud Storage bucket prefix, behind one
small interface (``base.ObjectStore``). boto3 and google.cloud.storage are imported only when a
bucket store makes its first request.
"""

from __future__ import annotations

from pathlib import Path

from edgeops.errors import EdgeopsError
from edgeops.objectstore.base import Blob, ObjectStore, PreconditionFailed, parse_url
from edgeops.objectstore.folder import FolderStore
from edgeops.objectstore.gcs import GCSStore
from edgeops.objectstore.s3 import S3Store

__all__ = ["Blob", "ObjectStore", "PreconditionFailed", "open_store", "parse_url"]

# URL scheme -> bucket store
BUCKET_STORES: dict[str, type[S3Store] | type[GCSStore]] = {"s3": S3Store, "gs": GCSStore}


def open_store(url: str | Path, *, endpoint_url: str | None = None) -> ObjectStore:
    """``s3://bucket/prefix``, ``gs://bucket/prefix`` or a folder. No request is made yet.

    ``endpoint_url`` points a bucket store at another service: an S3-compatible store (MinIO,
    Ceph, R2) or a Cloud Storage endpoint (a Private Service Connect one, say)."""
    where = parse_url(url)
    if where.scheme == "file":
        if endpoint_url:
            raise EdgeopsError(
                f"{url}: endpoint_url ({endpoint_url}) applies only to s3:// and gs:// locations"
            )
        return FolderStore(Path(url))
    return BUCKET_STORES[where.scheme](where.bucket, where.prefix, endpoint_url=endpoint_url)
