"""Scan an ``images`` dataset for review: every image, its labels and split, and every problem
the import would find, listed rather than raised.

The checks are the datasets package's own (the scanner's source reader and manifest builder run
with a problem list that collects instead of raising), so the page shows exactly the messages
``edgeops plan`` would. Problems that point at images are also grouped for the page's filters:
rejected files (with the reason), duplicates, conflicting labels, labels under 10 and under 100
images.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from edgeops.config.model import DatasetSpec
from edgeops.datasets.labels import MIN_IMAGES_PER_LABEL, RECOMMENDED_IMAGES_PER_LABEL
from edgeops.datasets.problems import Problem, Problems
from edgeops.datasets.scan import scan_source
from edgeops.datasets.sources import display_path, walk_folder
from edgeops.errors import EdgeopsError
from edgeops.progress import NullReporter
from edgeops.review.labels_file import LabelsFile


class _Collected(Problems):
    """A problem list that never raises: the review page lists the problems instead."""

    def raise_if_any(self, dataset: str, source: str) -> None:
        return None


@dataclass(frozen=True)
class ReviewImage:
    path: str  # relative to the images folder (posix): the labels file's first column
    sha256: str
    labels: tuple[str, ...]  # as the scanner reads them; () = unlabelled
    split: str  # "train" | "validation" | "test"; "" when unlabelled
    file: str  # absolute path (read only by the server, never sent to the page)
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class Rejected:
    path: str  # as shown in messages (relative to the config folder)
    reason: str


@dataclass(frozen=True)
class DatasetReview:
    dataset: str
    multi_label: bool
    labels_file: str  # as shown (relative to the config folder)
    images_folder: str
    images: tuple[ReviewImage, ...]  # accepted files, sorted by path
    rejected: tuple[Rejected, ...]
    problems: tuple[Problem, ...]  # every other problem, as the scanner words it
    warnings: tuple[str, ...]
    counts: dict[str, dict[str, int]]  # label -> split -> distinct images (as trained on)
    duplicates: frozenset[str]  # paths of files whose content another file repeats
    conflicts: frozenset[str]  # paths whose labels disagree (rows or identical images)

    def labels(self) -> tuple[str, ...]:
        return tuple(sorted(self.counts))

    def under(self, n: int) -> tuple[str, ...]:
        return tuple(label for label, c in sorted(self.counts.items()) if sum(c.values()) < n)

    def by_path(self) -> dict[str, ReviewImage]:
        return {im.path: im for im in self.images}


def check_reviewable(spec: DatasetSpec) -> None:
    if spec.source.kind != "images" or spec.source.labels_file is None:
        raise EdgeopsError(
            f"datasets.{spec.name}: review labels images through a labels file, but this "
            f"dataset reads a {spec.source.kind} source; use `source: {{images: FOLDER, "
            "labels_file: labels.csv}` to label in the browser"
        )


def review_dataset(spec: DatasetSpec, *, root: Path, cache_path: Path) -> DatasetReview:
    """Everything the review page shows about ``spec`` (an ``images`` dataset). Never raises
    for bad data; raises EdgeopsError only for a dataset that has no labels file."""
    check_reviewable(spec)
    assert spec.source.labels_file is not None
    problems = _Collected()
    shown = display_path(spec.source.path, root)
    found, manifest = scan_source(
        spec, root=root, cache_path=cache_path, reporter=NullReporter(), problems=problems
    )
    splits = {rec.sha256: rec.split for rec in manifest.images}
    base = os.path.normpath(spec.source.path)

    images: list[ReviewImage] = []
    for entry, insp in found:
        rel = Path(os.path.relpath(entry.locator, base)).as_posix()
        images.append(
            ReviewImage(
                path=rel,
                sha256=insp.sha256,
                labels=tuple(entry.labels),
                split=splits.get(insp.sha256, "") if entry.labels else "",
                file=entry.locator,
                width=insp.width,
                height=insp.height,
                format=insp.format,
            )
        )
    images.sort(key=lambda im: im.path)

    # rejected files: listed in the folder, not accepted; their reason is the scanner's message
    accepted = {entry.locator for entry, _ in found}
    labels_real = os.path.realpath(spec.source.labels_file)
    listed = walk_folder(spec.source.path, root, Problems()) if os.path.isdir(base) else []
    rejected_shown = {
        display_path(st.path, root)
        for _, st in listed
        if st.path not in accepted and os.path.realpath(st.path) != labels_real
    }
    rejected = [Rejected(p.where, p.what) for p in problems.items if p.where in rejected_shown]
    others = [p for p in problems.items if p.where not in rejected_shown]

    by_sha: dict[str, list[ReviewImage]] = defaultdict(list)
    for im in images:
        by_sha[im.sha256].append(im)
    duplicates = {im.path for group in by_sha.values() if len(group) > 1 for im in group}
    conflicts: set[str] = set()
    if not spec.multi_label:
        for group in by_sha.values():
            if len({im.labels for im in group if im.labels}) > 1:
                conflicts.update(im.path for im in group if im.labels)
        try:
            rows = LabelsFile.read(spec.source.labels_file, spec.source.path).rows
        except EdgeopsError:
            rows = {}  # unreadable: the scanner already reported why
        known = {im.path for im in images}
        for key, entries in rows.items():
            if key in known and len({tuple(sorted(set(e))) for e in entries}) > 1:
                conflicts.add(key)

    return DatasetReview(
        dataset=spec.name,
        multi_label=spec.multi_label,
        labels_file=display_path(spec.source.labels_file, root),
        images_folder=shown,
        images=tuple(images),
        rejected=tuple(sorted(rejected, key=lambda r: r.path)),
        problems=tuple(others),
        warnings=manifest.warnings,
        counts=manifest.label_counts(),
        duplicates=frozenset(duplicates),
        conflicts=frozenset(conflicts),
    )


__all__ = [
    "MIN_IMAGES_PER_LABEL",
    "RECOMMENDED_IMAGES_PER_LABEL",
    "DatasetReview",
    "Rejected",
    "ReviewImage",
    "check_reviewable",
    "review_dataset",
]
