"""Scan a dataset for review: every image of its source, its labels and split, and every problem
the import would find, listed rather than raised.

Any source kind can be reviewed. Where a change goes: an ``images`` source's ``labels_file``, or
the ``labels_override`` file of a zip, folder or csv source; a source with neither is shown read
only. The checks are the datasets package's own (the scanner's source reader, overrides and
manifest builder run with a problem list that collects instead of raising), so the page shows
exactly the messages ``edgeops plan`` would. Problems that point at images are also grouped for
the page's filters: rejected files (with the reason), duplicates, conflicting labels, labels
under 10 and under 100 images. On the google backend a csv source's ``gs://`` rows are read
through the backend's Cloud Storage reader (``scan_hooks``), as ``edgeops plan`` reads them.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeops.config.model import DatasetSpec
from edgeops.datasets.labels import MIN_IMAGES_PER_LABEL, RECOMMENDED_IMAGES_PER_LABEL
from edgeops.datasets.overrides import source_path
from edgeops.datasets.problems import Problem, Problems
from edgeops.datasets.rules import DataRules
from edgeops.datasets.scan import RemoteReader, scan_source
from edgeops.datasets.sources import display_path, walk_folder
from edgeops.datasets.split import NearGroups
from edgeops.errors import EdgeopsError
from edgeops.progress import NullReporter
from edgeops.review.labels_file import LabelsFile

_LINE = re.compile(r":\d+$")


class _Collected(Problems):
    """A problem list that never raises: the review page lists the problems instead."""

    def raise_if_any(self, dataset: str, source: str) -> None:
        return None


@dataclass(frozen=True)
class ReviewImage:
    path: str  # inside the source (posix): the labels (or overrides) file's first column
    sha256: str
    labels: tuple[str, ...]  # as the scanner reads them, overrides applied; () = unlabelled
    split: str  # "train" | "validation" | "test"; "" when unlabelled or excluded
    file: str  # the locator: absolute path or zip member (never sent to the page)
    width: int
    height: int
    format: str
    source_labels: tuple[str, ...] = ()  # what the source itself says
    excluded: bool = False  # removed from the dataset by the overrides file
    overridden: bool = False  # a row of the overrides file names it


@dataclass(frozen=True)
class Rejected:
    path: str  # as shown in messages (relative to the config folder)
    reason: str


@dataclass(frozen=True)
class DatasetReview:
    dataset: str
    multi_label: bool
    labels_file: str  # where changes are written, as shown; "" when the source is read only
    images_folder: str  # the source, as shown
    images: tuple[ReviewImage, ...]  # accepted files, sorted by path
    rejected: tuple[Rejected, ...]
    problems: tuple[Problem, ...]  # every other problem, as the scanner words it
    warnings: tuple[str, ...]
    counts: dict[str, dict[str, int]]  # label -> split -> distinct images (as trained on)
    duplicates: frozenset[str]  # paths of files whose content another file repeats
    conflicts: frozenset[str]  # paths whose labels disagree (rows or identical images)
    source_kind: str = "images"

    def labels(self) -> tuple[str, ...]:
        return tuple(sorted(self.counts))

    def under(self, n: int) -> tuple[str, ...]:
        return tuple(label for label, c in sorted(self.counts.items()) if sum(c.values()) < n)

    def by_path(self) -> dict[str, ReviewImage]:
        return {im.path: im for im in self.images}


def changes_file(spec: DatasetSpec) -> Path | None:
    """The file a review writes label changes to; None when the source is read only."""
    src = spec.source
    return src.labels_file if src.kind == "images" else src.labels_override


def read_only_reason(spec: DatasetSpec) -> str:
    kind = spec.source.kind
    if kind == "images":
        return (
            f"datasets.{spec.name}: this images source has no labels_file to write to; add "
            "`labels_file: labels.csv` to its source to label in the browser"
        )
    return (
        f"datasets.{spec.name} reads a {kind} source, which cannot be edited in place; add "
        f"`labels_override: data/{spec.name}.labels.csv` to its source to relabel in the browser"
    )


def scan_hooks(backend: Any) -> tuple[RemoteReader | None, DataRules | None]:
    """The backend's reader of remote (gs://) csv rows and its data rules, as ``resolve``
    scans with them; (None, None) without a backend (or for a test's partial one)."""
    remote = getattr(backend, "remote_rows", None)
    rules = getattr(backend, "data_rules", None)
    return (remote() if remote else None), (rules() if rules else None)


def review_dataset(
    spec: DatasetSpec,
    *,
    root: Path,
    cache_path: Path,
    near: NearGroups | None = None,
    remote: RemoteReader | None = None,
    rules: DataRules | None = None,
) -> DatasetReview:
    """Everything the review page shows about ``spec``. Never raises for bad data. ``near``:
    near-duplicate groups for ``split.group_near_duplicates`` (None: splits by hash alone);
    ``remote`` and ``rules``: the backend's (``scan_hooks``)."""
    src = spec.source
    problems = _Collected()
    shown = display_path(src.path, root)
    found, manifest, applied = scan_source(
        spec,
        root=root,
        cache_path=cache_path,
        reporter=NullReporter(),
        problems=problems,
        remote=remote,
        rules=rules,
        near=near,
    )
    splits = {rec.sha256: rec.split for rec in manifest.images}

    images: list[ReviewImage] = []
    for entry, insp in found:
        row = applied.by_sha.get(insp.sha256)
        labels = entry.labels if row is None or row.exclude else row.labels
        excluded = insp.sha256 in applied.excluded
        images.append(
            ReviewImage(
                path=source_path(src.kind, src.path, entry.locator),
                sha256=insp.sha256,
                labels=() if excluded else tuple(labels),
                split=splits.get(insp.sha256, "") if labels and not excluded else "",
                file=entry.locator,
                width=insp.width,
                height=insp.height,
                format=insp.format,
                source_labels=tuple(entry.labels),
                excluded=excluded,
                overridden=row is not None,
            )
        )
    images.sort(key=lambda im: im.path)

    listed = _listed_files(spec, root, shown, {entry.locator for entry, _ in found})
    if src.kind == "csv":  # the index's rows name the files; a rejected one is named alone
        listed = {
            p.where
            for p in problems.items
            if not _LINE.search(p.where) and os.path.isfile(os.path.join(root, p.where))
        }
    rejected = [Rejected(p.where, p.what) for p in problems.items if p.where in listed]
    others = [p for p in problems.items if p.where not in listed]

    by_sha: dict[str, list[ReviewImage]] = defaultdict(list)
    for im in images:
        by_sha[im.sha256].append(im)
    duplicates = {im.path for group in by_sha.values() if len(group) > 1 for im in group}
    conflicts: set[str] = set()
    if not spec.multi_label:
        for group in by_sha.values():
            if len({im.labels for im in group if im.labels}) > 1:
                conflicts.update(im.path for im in group if im.labels)
        if src.kind == "images" and src.labels_file is not None:
            try:
                rows = LabelsFile.read(src.labels_file, src.path).rows
            except EdgeopsError:
                rows = {}  # unreadable: the scanner already reported why
            known = {im.path for im in images}
            for key, entries in rows.items():
                if key in known and len({tuple(sorted(set(e))) for e in entries}) > 1:
                    conflicts.add(key)

    target = changes_file(spec)
    return DatasetReview(
        dataset=spec.name,
        multi_label=spec.multi_label,
        labels_file=display_path(target, root) if target is not None else "",
        images_folder=shown,
        images=tuple(images),
        rejected=tuple(sorted(rejected, key=lambda r: r.path)),
        problems=tuple(others),
        warnings=manifest.warnings,
        counts=manifest.label_counts(),
        duplicates=frozenset(duplicates),
        conflicts=frozenset(conflicts),
        source_kind=src.kind,
    )


def _listed_files(spec: DatasetSpec, root: Path, shown: str, accepted: set[str]) -> set[str]:
    """How the scanner names (in problems) each file of the source it did not accept."""
    src = spec.source
    if src.kind == "zip":
        try:
            with zipfile.ZipFile(src.path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/")]
        except (OSError, zipfile.BadZipFile):
            return set()
        return {f"{shown}:{n}" for n in names if n not in accepted}
    if src.kind == "csv":
        return set()  # see review_dataset
    base = os.path.normpath(src.path)
    skip = {os.path.realpath(p) for p in (src.labels_file, src.labels_override) if p is not None}
    files = walk_folder(src.path, root, Problems()) if os.path.isdir(base) else []
    return {
        display_path(st.path, root)
        for _, st in files
        if st.path not in accepted and os.path.realpath(st.path) not in skip
    }


__all__ = [
    "MIN_IMAGES_PER_LABEL",
    "RECOMMENDED_IMAGES_PER_LABEL",
    "DatasetReview",
    "Rejected",
    "ReviewImage",
    "changes_file",
    "read_only_reason",
    "review_dataset",
    "scan_hooks",
]
