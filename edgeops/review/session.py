"""One review session: the current scan of a dataset, label changes, thumbnails.

All state is in the repository: the images and the labels file (an ``images`` source) or the
labels overrides file (a zip, folder or csv source). A change is a read-modify-write of that
file under a lock, so changes from two tabs are serialized and none is lost; a change carries
the labels its sender saw (``before``) and is refused if the file moved on. On an overrides
file the label ``-`` removes the image from the dataset, and going back to the source's own
labels removes the image's row.

On the google backend a csv source may name ``gs://`` objects: they are listed and identified
as ``edgeops plan`` does (``scan_hooks``), and their thumbnails are read through the backend's
Cloud Storage client only while the object is the one scanned (its URI, generation and MD5),
so an object deleted or overwritten since reads as "changed since the scan", like a local
file. Their overrides rows name them by URI and by a prefix of that identity key.
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
from edgeops.datasets.overrides import (
    EXCLUDE,
    WRITE_PREFIX,
    Override,
    read_overrides,
    write_overrides,
)
from edgeops.datasets.problems import Problems
from edgeops.datasets.sources import display_path
from edgeops.review.labels_file import LabelsFile
from edgeops.review.problems import (
    MIN_IMAGES_PER_LABEL,
    RECOMMENDED_IMAGES_PER_LABEL,
    DatasetReview,
    ReviewImage,
    changes_file,
    read_only_reason,
    review_dataset,
    scan_hooks,
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
    def __init__(
        self,
        spec: DatasetSpec,
        *,
        root: Path,
        cache_path: Path,
        backend: Any = None,
        models: tuple[str, ...] = (),
    ) -> None:
        self.spec = spec
        self.root = root
        self.cache_path = cache_path
        self.backend = backend  # for the model-assisted suggestions; None: no suggestions
        self.models = models  # addresses of the dataset's models: a ready version suggests too
        self._suggestions: tuple[DatasetReview, dict[str, Any]] | None = None
        self._opinion: Any = None  # health.trained.VersionOpinion, once asked
        self._lock = threading.Lock()
        self._thumbs: OrderedDict[str, bytes] = OrderedDict()
        self._thumb_lock = threading.Lock()
        self._remote, self._rules = scan_hooks(backend)  # gs:// csv rows on the google backend
        self._review = self._scan()

    def _scan(self) -> DatasetReview:
        return review_dataset(
            self.spec,
            root=self.root,
            cache_path=self.cache_path,
            remote=self._remote,
            rules=self._rules,
        )

    @property
    def review(self) -> DatasetReview:
        return self._review

    def refresh(self) -> DatasetReview:
        with self._lock:
            self._review = self._scan()
            return self._review

    def apply(self, change: LabelChange) -> DatasetReview:
        """Write ``change`` to the labels (or overrides) file atomically; return the new scan."""
        labels = tuple(sorted(set(change.labels)))
        src = self.spec.source
        overrides = src.kind != "images"
        if changes_file(self.spec) is None:
            raise ChangeRefused(409, read_only_reason(self.spec))
        exclude = overrides and labels == (EXCLUDE,)
        for label in () if exclude else labels:
            if not is_valid_label(label):
                hint = f"; '{EXCLUDE}' alone removes the image" if overrides else ""
                raise ChangeRefused(400, f"'{label}' is not a valid label: {LABEL_RULE}{hint}")
        if len(labels) > 1 and not self.spec.multi_label:
            raise ChangeRefused(
                400, f"dataset {self.spec.name} is single-label; pick one label per image"
            )
        with self._lock:
            image = self._review.by_path().get(change.path)
            if image is None:
                self._review = self._scan()  # an image added since the last scan
                image = self._review.by_path().get(change.path)
                if image is None:
                    raise ChangeRefused(404, "no such image in this dataset")
            if overrides:
                self._write_override(image, change, labels)
            else:
                self._write_labels_file(change, labels)
            self._review = self._scan()
            return self._review

    def _refuse_moved(self, path: str, current: tuple[str, ...], before: tuple[str, ...]) -> None:
        if tuple(sorted(before)) != current:
            shown = "removed" if current == (EXCLUDE,) else ", ".join(current) or "unlabelled"
            raise ChangeRefused(
                409,
                f"{path} was relabelled elsewhere (now: {shown}); the page shows it now",
                current,
            )

    def _write_labels_file(self, change: LabelChange, labels: tuple[str, ...]) -> None:
        src = self.spec.source
        assert src.labels_file is not None
        lf = LabelsFile.read(src.labels_file, src.path)
        current = lf.labels_of(change.path, multi_label=self.spec.multi_label)
        if change.before is not None:
            self._refuse_moved(change.path, current, change.before)
        if current != labels or len(lf.rows.get(change.path, [])) > 1:
            lf.set(change.path, labels)
            lf.write()

    def _write_override(
        self, image: ReviewImage, change: LabelChange, labels: tuple[str, ...]
    ) -> None:
        file = self.spec.source.labels_override
        assert file is not None
        shown = display_path(file, self.root)
        problems = Problems()
        rows = read_overrides(
            file,
            shown=shown,
            multi_label=self.spec.multi_label,
            dataset=self.spec.name,
            problems=problems,
        )
        if problems:
            first = problems.items[0]
            raise ChangeRefused(409, f"{first.where}: {first.what}; fix {shown} first")

        def names(row: Override) -> bool:
            if row.sha_prefix:
                return image.sha256.startswith(row.sha_prefix)
            return row.image == image.path

        mine = [row for row in rows if names(row)]
        if mine:
            current = (EXCLUDE,) if mine[0].exclude else mine[0].labels
        else:
            current = image.source_labels
        if change.before is not None:
            self._refuse_moved(change.path, current, change.before)
        kept = [row for row in rows if not names(row)]
        if labels != image.source_labels:
            exclude = labels == (EXCLUDE,)
            prefix = image.sha256[:WRITE_PREFIX]
            kept.append(Override(0, "", image.path, prefix, () if exclude else labels, exclude))
        if kept != rows:
            write_overrides(file, kept)

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
        data = self._read(image)
        if data is None:
            return None
        if not self._is_remote(image) and hashlib.sha256(data).hexdigest() != sha256:
            return None  # changed since the scan: the page reloads the state
        from PIL import Image

        try:
            thumb = make_thumbnail(data)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None  # a gs:// object was judged by its content type, never decoded
        with self._thumb_lock:
            self._thumbs[sha256] = thumb
            while len(self._thumbs) > THUMB_CACHE:
                self._thumbs.popitem(last=False)
        return thumb

    def _is_remote(self, image: ReviewImage) -> bool:
        return self._remote is not None and image.file.lower().startswith(self._remote.scheme)

    def _read(self, image: ReviewImage) -> bytes | None:
        """An image's bytes from the source (a file, a zip member, or a gs:// object still
        the one scanned); None if unreadable."""
        from edgeops.datasets.readback import source_reader

        if self._remote is not None and self._is_remote(image):
            return self._remote.read(image.file, image.sha256)
        with source_reader(self.spec) as read:
            return read(image.file)

    def image_bytes(self, sha256: str) -> bytes | None:
        image = next((im for im in self._review.images if im.sha256 == sha256), None)
        return None if image is None else self._read(image)

    def state(self) -> dict[str, Any]:
        return state_json(self._review)

    def suggestions(self) -> dict[str, Any]:
        """The probe's opinion of every image (``edgeops inspect``'s): per sha256 the predicted
        label and its probability (out of fold for labelled images), and the labelled images
        ranked by how much the probe disagrees with their label. Recomputed after a change
        (features are cached, so that is the probe's fit only). With a ready version of one of
        the dataset's models, that version judges the images it never trained on
        (``health.trained``); ``model`` names it."""
        from edgeops.health.report import health_of
        from edgeops.progress import NullReporter

        review = self._review
        if self._suggestions is not None and self._suggestions[0] is review:
            return self._suggestions[1]
        if self.backend is None:
            return {"available": False, "why": "no backend to compute image features"}
        doc, predictions = health_of(
            review, self.spec, backend=self.backend, reporter=NullReporter()
        )
        features = doc["features"] or {}
        if not features.get("available"):
            out: dict[str, Any] = {"available": False, "why": features.get("why", "")}
        else:
            out = {
                "available": True,
                "backbone": features["backbone"],
                "predicted": {
                    sha: {"label": label, "confidence": round(p, 4)}
                    for sha, (label, p) in predictions.by_sha.items()
                },
                "mislabelled": [
                    {"sha256": e["sha256"], "suggested": e["suggested"], "score": e["score"]}
                    for e in doc["suspected_label_errors"]
                ],
                "model": None,
            }
            out = self._with_model(review, out)
        self._suggestions = (review, out)
        return out

    def _with_model(self, review: DatasetReview, out: dict[str, Any]) -> dict[str, Any]:
        from edgeops.health.trained import VersionOpinion, trained_version, with_version

        found = trained_version(self.backend, self.models)
        if found is None:
            return out
        address, version = found
        opinion = self._opinion
        if opinion is None or (opinion.address, opinion.version) != (address, version):
            opinion = self._opinion = VersionOpinion(self.backend, address, version)
        return with_version(out, review, self.spec, opinion)


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
        "source_kind": r.source_kind,
        "editable": bool(r.labels_file),
        "overrides": r.source_kind != "images",
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
                "labels": [EXCLUDE] if im.excluded else list(im.labels),
                "source_labels": list(im.source_labels),
                "excluded": im.excluded,
                "overridden": im.overridden,
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
