"""Read-modify-write of an ``images`` dataset's labels file (``path,label[,label...]``).

Reading follows the scanner's rules (``edgeops.datasets.csv_index``): UTF-8 with or without
BOM, blank rows skipped, one optional header row, cells stripped, trailing empty cells ignored,
paths relative to the images folder. Writing is stable so that diffs stay small: one row per
image, rows sorted by path, labels sorted, ``\\n`` line endings, the header kept (``path,label``
for a new file), written atomically (temp file + rename). Rows this module cannot interpret
(other URIs, paths outside the images folder) are written back unchanged.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgeops.datasets.csv_index import iter_rows, resolve_uri
from edgeops.errors import EdgeopsError

NEW_HEADER = ("path", "label")


@dataclass
class LabelsFile:
    """The parsed rows of a labels file: image path (posix, relative) -> labels of each row."""

    file: Path
    images: Path
    header: tuple[str, ...] | None = None
    rows: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def read(cls, file: Path, images: Path) -> LabelsFile:
        lf = cls(file, images)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            lf.header = NEW_HEADER
            return lf
        except OSError as e:
            raise EdgeopsError(f"{file}: cannot read: {e.strerror or e}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise EdgeopsError(
                f"{file}: not UTF-8 (byte {e.start}); save it as UTF-8 CSV before labelling"
            ) from None
        try:
            for _line, cells, header in iter_rows(text):
                if header:
                    lf.header = tuple(cells)
                    continue
                key = lf.key(cells[0]) or cells[0]
                lf.rows.setdefault(key, []).append(tuple(cells[1:]))
        except csv.Error as e:
            raise EdgeopsError(f"{file}: malformed CSV ({e}); fix the quoting first") from None
        return lf

    def key(self, uri: str) -> str:
        """The posix path of ``uri`` relative to the images folder; "" if it is not inside it."""
        path, why = resolve_uri(uri, self.images)
        if why:
            return ""
        base = os.path.normpath(self.images)
        if not path.startswith(base.rstrip(os.sep) + os.sep):
            return ""
        return Path(os.path.relpath(path, base)).as_posix()

    def labels_of(self, key: str, *, multi_label: bool) -> tuple[str, ...]:
        """The labels the scanner reads for ``key``: the first row's (single-label) or all rows'."""
        entries = self.rows.get(key, [])
        if not entries:
            return ()
        if multi_label:
            return tuple(sorted({label for labels in entries for label in labels}))
        return tuple(sorted(set(entries[0])))

    def set(self, key: str, labels: tuple[str, ...]) -> None:
        """One row for ``key`` with ``labels`` (sorted); no row when ``labels`` is empty."""
        if labels:
            self.rows[key] = [tuple(sorted(set(labels)))]
        else:
            self.rows.pop(key, None)

    def render(self) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if self.header is not None:
            writer.writerow(self.header)
        for key in sorted(self.rows):
            for labels in self.rows[key]:
                writer.writerow([key, *labels])
        return buf.getvalue().encode()

    def write(self) -> None:
        from edgeops.files import atomic_write

        atomic_write(self.file, self.render())
