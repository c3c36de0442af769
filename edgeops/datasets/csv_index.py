"""Read a CSV index (``uri,label[,label...]``) or an images labels file (``path,label[,...]``).

Both: UTF-8 with or without BOM, any line endings, blank rows skipped, one optional header row
(first cell ``uri``/``path``/``image``/``file``..., second cell ``label...``), trailing empty
cells ignored (spreadsheets add them). URIs: a plain path (relative to the CSV's folder, or to
the images folder for a labels file), a ``file://`` URI, or either with ``%20``-style escapes.
``gs://`` URIs are rejected here (only the google backend can read Cloud Storage) unless the
caller passes ``remote="gs://"``: such rows are then returned with the URI as ``path``, unchecked,
for a ``RemoteReader`` (see scan.py) to validate and identify.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from edgeops.datasets.labels import is_valid_label, label_problem
from edgeops.datasets.problems import Problems

HEADER_FIRST = frozenset({"uri", "path", "image", "image_uri", "image_path", "file", "filename"})
ML_USE = frozenset({"TRAIN", "VALIDATION", "TEST", "UNASSIGNED"})


class MalformedCsv(csv.Error):
    """A ``csv.Error`` that knows the line the reader was on."""

    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(str(error))
        self.line = line


def iter_rows(text: str) -> Iterator[tuple[int, list[str], bool]]:
    """The non-empty rows of a CSV index or labels file, as (line, cells, is_header).

    Cells are stripped and trailing empty cells dropped; only the first row can be a header
    (``path``/``uri``/... followed by ``label...``). One reading rule for the scanner and for
    the review page's writer, so both agree on what a row is. Raises ``MalformedCsv``.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise MalformedCsv(reader.line_num, e) from None
        cells = [c.strip() for c in raw]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        header = (
            first
            and cells[0].lower() in HEADER_FIRST
            and (len(cells) == 1 or cells[1].lower().startswith("label"))
        )
        first = False
        yield reader.line_num, cells, header


@dataclass(frozen=True)
class Row:
    line: int
    where: str  # "labels.csv:7"
    path: str  # absolute, normalised (not resolved)
    labels: tuple[str, ...]  # sorted, unique; () = unlabelled (labels file only)


def read_rows(
    csv_path: Path,
    *,
    base: Path,
    shown: str,
    kind: Literal["csv", "images"],
    multi_label: bool,
    dataset: str,
    problems: Problems,
    remote: str | None = None,
) -> list[Row]:
    """Parse rows; every bad row is added to ``problems`` (named by ``shown:line``).

    ``remote``: a URI scheme (``"gs://"``) whose rows are kept with the URI as ``path``, for a
    backend-side reader to check; without it such URIs are a problem."""
    text = read_csv_text(csv_path, shown, problems, "check the path in edgeops.yaml")
    if text is None:
        return []

    relative_to = "the CSV's folder" if kind == "csv" else "the images folder"
    rows: list[Row] = []
    bad_labels: dict[str, tuple[str, int]] = {}  # label -> (first where, rows)
    try:
        for line, cells, header in iter_rows(text):
            where = f"{shown}:{line}"
            if header:
                continue
            if cells[0].upper() in ML_USE and len(cells) >= 2:
                problems.add(
                    where,
                    f"first column '{cells[0]}' is an AutoML ML_USE column; "
                    f"edgeops assigns splits from content hashes (datasets."
                    f"{dataset}.split), remove the column",
                )
                continue
            is_remote = bool(remote) and cells[0].lower().startswith(str(remote))
            path, why = (cells[0], "") if is_remote else resolve_uri(cells[0], base)
            if why:
                problems.add(where, why)
                continue
            labels = cells[1:]
            if any(not label for label in labels):
                problems.add(where, "empty label between labels; remove the empty column")
                continue
            if not labels and kind == "csv":
                problems.add(
                    where,
                    "no label; every row of a csv source needs one (for "
                    "unlabelled images use source kind images with a "
                    "labels_file)",
                )
                continue
            unique = tuple(sorted(set(labels)))
            if len(unique) > 1 and not multi_label:
                problems.add(
                    where,
                    f"{len(unique)} labels ({', '.join(unique)}) in a "
                    f"single-label dataset; set multi_label: true on datasets."
                    f"{dataset}, or keep one label per row",
                )
                continue
            for label in unique:
                if not is_valid_label(label):
                    first_where, count = bad_labels.get(label, (where, 0))
                    bad_labels[label] = (first_where, count + 1)
            if not is_remote and not os.path.isfile(path):
                what = "is a folder, not an image" if os.path.isdir(path) else "file not found"
                problems.add(
                    where,
                    f"{what}: {path}; fix the path (relative to {relative_to}) or remove the row",
                )
                continue
            rows.append(Row(line, where, path, unique))
    except MalformedCsv as e:
        problems.add(f"{shown}:{e.line}", f"malformed CSV ({e}); fix the quoting")
    for label, (first_where, count) in bad_labels.items():
        used = f" (on {count} rows)" if count > 1 else ""
        problems.add(first_where, f"{label_problem(label)}{used}; rename the label")
    return rows


def read_csv_text(path: Path, shown: str, problems: Problems, fix: str) -> str | None:
    """The text of a UTF-8 CSV (BOM or not); None, with the reason in ``problems``, when it
    cannot be read (``fix``: how to repair an unreadable file) or decoded."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.add(shown, f"cannot read: {e.strerror or e}; {fix}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        problems.add(shown, f"not UTF-8 (byte {e.start}); save it as UTF-8 CSV")
        return None


def resolve_uri(uri: str, base: Path) -> tuple[str, str]:
    """(absolute normalised path, "") or ("", why the URI cannot be used)."""
    if not uri:
        return "", "empty path; put the image path in the first column"
    lower = uri.lower()
    if lower.startswith("gs://"):
        return "", (
            f"{uri}: gs:// URIs are read by the google backend only (backend: google); "
            "for a local scan download the images and list local paths"
        )
    if lower.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            return "", f"{uri}: file URI on another host; use a local path"
        return os.path.normpath(unquote(parsed.path)), ""
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        return "", f"{uri}: {scheme}:// URIs are not supported; use a local path"
    path = os.path.normpath(os.path.join(base, uri))
    if "%" in uri and not os.path.exists(path):
        path = os.path.normpath(os.path.join(base, unquote(uri)))
    return path, ""
