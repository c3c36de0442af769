"""The scanner's output: which images a dataset holds, by content hash, with labels and split.

A ``Manifest`` is what ``edgeops plan`` diffs against what a backend has imported. It is a pure
value: building it read every image, so nothing here touches the file system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from edgeops.config.model import SPLITS

FINGERPRINT_VERSION = "edgeops-dataset-v1"


class ImageRecord(NamedTuple):
    """One distinct image (by content) of a dataset.

    A NamedTuple rather than a frozen dataclass: a plan builds one per image (100k on a large
    dataset), and a NamedTuple is built four times faster.
    """

    sha256: str
    labels: tuple[str, ...]  # sorted; empty = unlabelled (kind "images" without a labels row)
    split: str  # "train" | "validation" | "test", from the content hash (see split.py)
    source: str  # for messages: "data/objects.zip:animal/crab.jpg" or a path relative to root
    size: int  # bytes
    format: str  # Pillow format name: JPEG, PNG, GIF, BMP, ICO, WEBP
    width: int
    height: int
    locator: str = ""  # how to read it back: the zip member name, or the file's absolute path


@dataclass(frozen=True)
class Manifest:
    dataset: str
    multi_label: bool
    images: tuple[ImageRecord, ...]  # labelled images, sorted by sha256, each sha256 once
    unlabelled: tuple[ImageRecord, ...] = ()  # sorted by sha256, none also in ``images``
    duplicates: tuple[tuple[str, str], ...] = ()  # (kept source, duplicate source)
    warnings: tuple[str, ...] = ()
    source_kind: str = ""  # the SourceSpec kind it was scanned from (zip|folder|csv|images)

    def fingerprint(self) -> str:
        """sha256 of the canonical set of (sha256, labels, split) of the labelled images.

        Independent of file names, paths and order; includes ``multi_label`` because the same
        images mean a different task when it flips. Unlabelled images do not count: they are
        not trained on.
        """
        known = self.__dict__.get("_fingerprint")
        if known is not None:
            return str(known)
        head = f"{FINGERPRINT_VERSION}\nmulti_label={int(self.multi_label)}\n"
        lines = [
            f"{rec[0]}\t{rec[1][0] if len(rec[1]) == 1 else _labels_text(rec[1])}\t{rec[2]}\n"
            for rec in sorted(self.images, key=itemgetter(0))  # (sha256, labels, split, ...)
        ]
        digest = hashlib.sha256((head + "".join(lines)).encode()).hexdigest()
        self.remember_fingerprint(digest)
        return digest

    def remember_fingerprint(self, digest: str) -> None:
        """Keep ``digest`` as this (immutable) manifest's fingerprint: computed once, or stored
        with it (``snapshot.py``)."""
        object.__setattr__(self, "_fingerprint", digest)

    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({label for rec in self.images for label in rec.labels}))

    def label_counts(self) -> dict[str, dict[str, int]]:
        """label -> split -> number of images (every split present, possibly 0)."""
        counts: dict[str, dict[str, int]] = {
            label: {s: 0 for s in SPLITS} for label in self.labels()
        }
        for rec in self.images:
            for label in rec.labels:
                counts[label][rec.split] += 1
        return counts


def _labels_text(labels: tuple[str, ...]) -> str:
    # one label needs no sorting (100k sorted() calls were 0.4 s of a cold plan)
    return labels[0] if len(labels) == 1 else ",".join(sorted(labels))
