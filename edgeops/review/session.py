"""One review session: the current scan of a dataset, label changes, thumbnails.

All state is in the repository: the images and the labels file. A change is a read-modify-write
of the labels file under a lock, so changes from two tabs are serialized and none is lost; a
change carries the labels its sender saw (``before``) and is refused if the file moved on.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeops.config.model import DatasetSpec
from edgeops.datasets.labels import LABEL_RULE, is_valid_label
from edgeops.review.labels_file import LabelsFile
from edgeops.review.problems import (
    MIN_IMAGES_PER_LABEL,
    RECOMMENDED_IMAGES_PER_LABEL,
    DatasetReview,
    review_dataset,
)

THUMB_PX = 256
THUMB_CACHE = 2000  # thumbnails kept in memory (about 10-20 kB each)


class ChangeRefused(Exception):
    def __init__(self, status: int, message: str, current: tuple[str, ...] | None = None):
        super().__init__(message)
        self.status = status
        self.current = current


@dataclass(frozen=True)
class LabelChange:
    path: str
    labels: tuple[str, ...]
    before: tuple[str, ...] | None = None  # None: do not check


class ReviewSession:
    def __init__(self, spec: DatasetSpec, *, root: Path, cache_path: Path) -> None:
        self.spec = spec
        self.root = root
        self.cache_path = cache_path
        self._lock = threading.Lock()
        self._thumbs: OrderedDict[str, bytes] = OrderedDict()
        self._thumb_lock = threading.Lock()
        self._review = self._scan()

    def _scan(self) -> DatasetReview:
        return review_dataset(self.spec, root=self.root, cache_path=self.cache_path)

    @property
    def review(self) -> DatasetReview:
        return self._review

    def refresh(self) -> DatasetReview:
        with self._lock:
            self._review = self._scan()
            return self._review

    def apply(self, change: LabelChange) -> DatasetReview:
        """Write ``change`` to the labels file (atomically) and return the new scan."""
        labels = tuple(sorted(set(change.labels)))
        for label in labels:
            if not is_valid_label(label):
                raise ChangeRefused(400, f"'{label}' is not a valid label: {LABEL_RULE}")
        if len(labels) > 1 and not self.spec.multi_label:
            raise ChangeRefused(
                400, f"dataset {self.spec.name} is single-label; pick one label per image"
            )
        src = self.spec.source
        assert src.labels_file is not None
        with self._lock:
            if change.path not in self._review.by_path():
                self._review = self._scan()  # an image added since the last scan
                if change.path not in self._review.by_path():
                    raise ChangeRefused(404, "no such image in this dataset")
            lf = LabelsFile.read(src.labels_file, src.path)
            current = lf.labels_of(change.path, multi_label=self.spec.multi_label)
            if change.before is not None and tuple(sorted(change.before)) != current:
                raise ChangeRefused(
                    409,
                    f"{change.path} was relabelled elsewhere (now: "
                    f"{', '.join(current) or 'unlabelled'}); the page shows it now",
                    current,
                )
            if current != labels or len(lf.rows.get(change.path, [])) > 1:
                lf.set(change.path, labels)
                lf.write()
            self._review = self._scan()
            return self._review

    def thumbnail(self, sha256: str) -> bytes | None:
        """A JPEG of at most THUMB_PX pixels a side; None for an unknown or changed image."""
        with self._thumb_lock:
            hit = self._thumbs.get(sha256)
            if hit is not None:
                self._thumbs.move_to_end(sha256)
                return hit
        image = next((im for im in self._review.images if im.sha256 == sha256), None)
        if image is None:
            return None
        try:
            data = Path(image.file).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            return None  # changed since the scan: the page reloads the state
        thumb = make_thumbnail(data)
        with self._thumb_lock:
            self._thumbs[sha256] = thumb
            while len(self._thumbs) > THUMB_CACHE:
                self._thumbs.popitem(last=False)
        return thumb

    def state(self) -> dict[str, Any]:
        return state_json(self._review)


def make_thumbnail(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)
        im.draft("RGB", (THUMB_PX, THUMB_PX))
        frame = ImageOps.exif_transpose(im) or im
        if frame.mode in ("RGBA", "LA", "P"):
            rgba = frame.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
        else:
            flat = frame.convert("RGB")
        flat.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        flat.save(out, format="JPEG", quality=82, optimize=True)
        return out.getvalue()


def state_json(r: DatasetReview) -> dict[str, Any]:
    """What the page needs; file system paths other than the shown ones never leave."""
    return {
        "dataset": r.dataset,
        "multi_label": r.multi_label,
        "labels_file": r.labels_file,
        "images_folder": r.images_folder,
        "labels": list(r.labels()),
        "counts": r.counts,
        "min_images": MIN_IMAGES_PER_LABEL,
        "recommended_images": RECOMMENDED_IMAGES_PER_LABEL,
        "under_min": list(r.under(MIN_IMAGES_PER_LABEL)),
        "under_recommended": [
            label
            for label in r.under(RECOMMENDED_IMAGES_PER_LABEL)
            if label not in r.under(MIN_IMAGES_PER_LABEL)
        ],
        "images": [
            {
                "path": im.path,
                "sha256": im.sha256,
                "labels": list(im.labels),
                "split": im.split,
                "width": im.width,
                "height": im.height,
                "format": im.format,
                "duplicate": im.path in r.duplicates,
                "conflict": im.path in r.conflicts,
            }
            for im in r.images
        ],
        "rejected": [{"path": x.path, "reason": x.reason} for x in r.rejected],
        "problems": [{"where": p.where, "what": p.what} for p in r.problems],
        "warnings": list(r.warnings),
    }
