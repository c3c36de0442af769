"""A dataset's labels overrides file: relabel or remove images of a source that cannot be edited
in place (a zip, a folder of label folders, a CSV index), kept in the repository.

Format (``source.labels_override``; UTF-8, header ``image,sha256,label``)::

    image,sha256,label
    animal/crab.jpg,3f2a9c01d4e5,fish        relabel: these labels replace the source's
    animal/blurry.jpg,9b1e04c2aa70,-         "-": the image is removed from the dataset
    fish/nemo.jpg,,animal                    no sha256: the image is named by its path only
    fish/dark.jpg,77c0a1b2c3d4               no label: the image stays, unlabelled

- ``image``: the image's path inside the source (a zip member name, a path under the folder,
  the path relative to the CSV's folder, or a ``gs://`` URI as the index lists it);
- ``sha256``: the first hex digits (8 to 64; edgeops writes 12) of the image's content hash. It
  is what identifies the image, so a renamed or moved file keeps its override; exact copies of
  one image are one image and share it;
  for a ``gs://`` row, whose bytes the scan never reads, the prefix of its identity key instead
  (SHA-256 of its URI, generation and MD5: ``backends/google/gcs_source.object_key``), so an
  object overwritten since the review leaves a stale row rather than relabelling other bytes;
- labels: one or more (more only in a multi-label dataset), or ``-`` alone, or none.

A row whose image is no longer in the source is a warning (a stale row); a row whose prefix
matches two different images, a bad label or a second row for the same image is an error of
the source, reported with the scanner's other problems (``file:line``). A missing file is no
overrides. The review page writes this file (``write_overrides``): rows sorted by path, labels
sorted, ``\\n`` line ends, atomically.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edgeops.datasets.csv_index import MalformedCsv, iter_rows, read_csv_text
from edgeops.datasets.labels import is_valid_label, label_problem
from edgeops.datasets.problems import Problems
from edgeops.datasets.sources import Entry, Found

HEADER = ("image", "sha256", "label")
EXCLUDE = "-"
MIN_PREFIX = 8
WRITE_PREFIX = 12
_HEX = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True)
class Override:
    line: int
    where: str  # "data/objects.labels.csv:7"
    image: str  # path inside the source, as written
    sha_prefix: str  # lowercase hex; "" = named by path only
    labels: tuple[str, ...]  # sorted; () = unlabelled
    exclude: bool = False

    def cells(self) -> list[str]:
        return [self.image, self.sha_prefix, *((EXCLUDE,) if self.exclude else self.labels)]


@dataclass(frozen=True)
class Applied:
    """What an overrides file did to a source's images."""

    by_sha: dict[str, Override] = field(default_factory=dict)  # image sha256 -> its row
    excluded: frozenset[str] = frozenset()  # sha256 of removed images
    warnings: tuple[str, ...] = ()


def read_overrides(
    file: Path, *, shown: str, multi_label: bool, dataset: str, problems: Problems
) -> list[Override]:
    """The rows of ``file`` (none when it does not exist); bad rows go to ``problems``."""
    if not file.exists():
        return []
    text = read_csv_text(file, shown, problems, "check source.labels_override")
    if text is None:
        return []
    rows: list[Override] = []
    seen: dict[str, str] = {}  # sha prefix or path -> where
    try:
        for n, (line, cells, _header) in enumerate(iter_rows(text)):
            if n == 0 and cells[0].lower() in ("image", "path"):
                continue  # the header
            where = f"{shown}:{line}"
            row = _parse(cells, where, line, multi_label, dataset, problems)
            if row is None:
                continue
            key = row.sha_prefix or row.image
            if key in seen:
                problems.add(where, f"{row.image} is also overridden on {seen[key]}; keep one row")
                continue
            seen[key] = where
            rows.append(row)
    except MalformedCsv as e:
        problems.add(f"{shown}:{e.line}", f"malformed CSV ({e}); fix the quoting")
    return rows


def _parse(
    cells: list[str], where: str, line: int, multi_label: bool, dataset: str, problems: Problems
) -> Override | None:
    image = cells[0]
    sha = cells[1].lower() if len(cells) > 1 else ""
    labels = cells[2:]
    if sha and not _HEX.fullmatch(sha):
        problems.add(
            where,
            f"'{cells[1]}' is not a sha256 prefix (8 to 64 hex digits); rows are "
            "image,sha256,label[,label...] (leave sha256 empty to name the image by its path)",
        )
        return None
    if not image and not sha:
        problems.add(where, "no image path and no sha256; name the image")
        return None
    if any(not label for label in labels):
        problems.add(where, "empty label between labels; remove the empty column")
        return None
    if EXCLUDE in labels:
        if len(labels) > 1:
            problems.add(where, f"'{EXCLUDE}' removes the image: write it alone, without labels")
            return None
        return Override(line, where, image, sha, (), exclude=True)
    unique = tuple(sorted(set(labels)))
    if len(unique) > 1 and not multi_label:
        problems.add(
            where,
            f"{len(unique)} labels ({', '.join(unique)}) in a single-label dataset; set "
            f"multi_label: true on datasets.{dataset}, or keep one label",
        )
        return None
    for label in unique:
        if not is_valid_label(label):
            problems.add(where, f"{label_problem(label)}; rename the label")
            return None
    return Override(line, where, image, sha, unique)


def apply_overrides(
    found: Found,
    rows: list[Override],
    path_of: Callable[[Entry], str],
    *,
    problems: Problems,
) -> tuple[Found, Applied]:
    """``found`` with each overridden image's labels replaced (origin: the row) and excluded
    images left out; ``path_of`` gives an entry's path inside the source."""
    if not rows:
        return found, Applied()
    by_prefix: dict[str, set[str]] = {}
    by_path: dict[str, set[str]] = {}
    for entry, insp in found:
        by_prefix.setdefault(insp.sha256[:MIN_PREFIX], set()).add(insp.sha256)
        by_path.setdefault(path_of(entry), set()).add(insp.sha256)
    by_sha: dict[str, Override] = {}
    warnings: list[str] = []
    for row in rows:
        if row.sha_prefix:
            near = by_prefix.get(row.sha_prefix[:MIN_PREFIX], set())
            shas = {s for s in near if s.startswith(row.sha_prefix)}
        else:
            shas = by_path.get(row.image, set())
        if not shas:
            what = f"sha256 {row.sha_prefix}" if row.sha_prefix else "that path"
            warnings.append(
                f"{row.where}: no image of the source has {what} ({row.image} was changed or "
                "removed); remove the row"
            )
            continue
        if len(shas) > 1:
            problems.add(
                row.where,
                f"{row.sha_prefix or row.image} names {len(shas)} different images; write a "
                "longer sha256 prefix",
            )
            continue
        sha = next(iter(shas))
        if sha in by_sha:
            problems.add(
                row.where, f"{row.image} is also overridden on {by_sha[sha].where}; keep one row"
            )
            continue
        by_sha[sha] = row
    out: Found = []
    excluded: set[str] = set()
    for entry, insp in found:
        hit = by_sha.get(insp.sha256)
        if hit is None:
            out.append((entry, insp))
        elif hit.exclude:
            excluded.add(insp.sha256)
        else:
            out.append((entry._replace(labels=hit.labels, origin=hit.where), insp))
    return out, Applied(by_sha, frozenset(excluded), tuple(warnings))


def source_path(kind: str, base: Path, locator: str) -> str:
    """An image's path inside its source: the zip member name, the posix path under the folder
    (or relative to the CSV's folder), or a remote URI as it is."""
    if kind == "zip" or "://" in locator:
        return locator
    folder = base.parent if kind == "csv" else base
    rel = os.path.relpath(locator, os.path.normpath(folder))
    return rel.replace(os.sep, "/")


def render_overrides(rows: Iterable[Override]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for row in sorted(rows, key=lambda r: (r.image, r.sha_prefix)):
        writer.writerow(row.cells())
    return buf.getvalue().encode()


def write_overrides(file: Path, rows: Iterable[Override]) -> None:
    from edgeops.files import atomic_write

    atomic_write(file, render_overrides(rows))
