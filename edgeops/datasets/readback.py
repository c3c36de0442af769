"""Read a scanned dataset's original image bytes back, for a backend's importer.

Each image is read from where the scan found it (a zip member, or a file) and checked against its
sha256: a source changed since the scan raises ``DatasetError`` instead of importing other bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from edgeops.config.model import DatasetSpec
from edgeops.datasets.images import MAX_IMAGE_BYTES, sha256_hex
from edgeops.datasets.manifest import ImageRecord
from edgeops.datasets.sources import display_path
from edgeops.errors import DatasetError


def iter_image_bytes(
    spec: DatasetSpec, records: Iterable[ImageRecord], *, root: Path
) -> Iterator[tuple[ImageRecord, bytes]]:
    """(record, original bytes) for each record, opening a zip source once. Each image's bytes
    are checked against its sha256: a source changed since the scan raises DatasetError."""
    src = spec.source
    shown = display_path(src.path, root)
    zf = zipfile.ZipFile(src.path) if src.kind == "zip" else None
    try:
        for rec in records:
            try:
                if zf is not None:
                    with zf.open(rec.locator) as f:
                        data = f.read(MAX_IMAGE_BYTES + 1)
                else:
                    with open(rec.locator, "rb") as fh:
                        data = fh.read(MAX_IMAGE_BYTES + 1)
            except (OSError, KeyError, zipfile.BadZipFile) as e:
                raise DatasetError(
                    f"datasets.{spec.name}: {shown}: 1 problem\n  {rec.source}: cannot read "
                    f"it any more ({e}); run edgeops plan again"
                ) from e
            if sha256_hex(data) != rec.sha256:
                raise DatasetError(
                    f"datasets.{spec.name}: {shown}: 1 problem\n  {rec.source}: changed since "
                    "it was scanned; run edgeops plan again"
                )
            yield rec, data
    finally:
        if zf is not None:
            zf.close()


@contextmanager
def source_reader(spec: DatasetSpec) -> Iterator[Callable[[str], bytes | None]]:
    """``read(locator)``: an image's bytes from ``spec``'s source (a file or a zip member, the
    zip opened once), None when it cannot be read (or is remote). Unchecked: for thumbnails and
    features, whose callers key them by the scanned sha256."""
    src = spec.source
    try:
        zf = zipfile.ZipFile(src.path) if src.kind == "zip" else None
    except (OSError, zipfile.BadZipFile):
        zf = None

    def read(locator: str) -> bytes | None:
        try:
            if src.kind == "zip":
                if zf is None:
                    return None
                with zf.open(locator) as f:
                    return f.read(MAX_IMAGE_BYTES + 1)
            if "://" in locator:
                return None
            with open(locator, "rb") as fh:
                return fh.read(MAX_IMAGE_BYTES + 1)
        except (OSError, KeyError, zipfile.BadZipFile):
            return None

    try:
        yield read
    finally:
        if zf is not None:
            zf.close()
