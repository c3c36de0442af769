"""Scan a structured zip safely: every entry checked before any is read, bombs never inflated.

Rejected without reading: entries whose name is absolute or contains ``..``; symlink entries
(unix mode in ``external_attr``; ``unzip`` would create them as links, so they are never
followed); encrypted entries; entries declaring more than 30 MB; entries larger than
``RATIO_CHECK_MIN_BYTES`` whose declared compression ratio exceeds ``MAX_COMPRESSION_RATIO``;
and the whole zip when the declared sizes add up to more than ``MAX_ZIP_TOTAL_BYTES``. While
reading, actual bytes are counted against each entry's declared size (and the total), so a lying
header cannot inflate more than was declared.

The result (``ZipScan``) depends only on the zip's bytes, so the hash cache stores it whole.
"""

from __future__ import annotations

import itertools
import os
import re
import stat as stat_mod
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeops.datasets.images import MAX_IMAGE_BYTES, Inspection, inspect_bytes, size_error
from edgeops.datasets.parallel import PHOTO_BYTES, map_processes
from edgeops.datasets.problems import Problems
from edgeops.datasets.sources import is_junk, label_layout
from edgeops.progress import Reporter

MAX_ZIP_TOTAL_BYTES = 2 * 1024**3  # declared (and actual) uncompressed bytes of one zip
MAX_COMPRESSION_RATIO = 100  # per entry, checked for entries above RATIO_CHECK_MIN_BYTES
RATIO_CHECK_MIN_BYTES = 1024 * 1024
PROGRESS_MIN = 50  # show a progress bar when reading at least this many entries

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipMember:
    name: str
    label: str
    crc: int
    size: int
    inspection: Inspection


@dataclass(frozen=True)
class ZipScan:
    members: tuple[ZipMember, ...]  # label-folder images that were read, in name order
    problems: tuple[tuple[str, str], ...]  # (entry name, or "" for the zip itself; what)
    label_dirs: tuple[tuple[str, str], ...]  # (label, its folder inside the zip)

    def to_json(self) -> dict[str, Any]:
        return {
            "members": [
                [
                    m.name,
                    m.label,
                    m.crc,
                    m.size,
                    m.inspection.sha256,
                    m.inspection.format,
                    m.inspection.width,
                    m.inspection.height,
                    m.inspection.error,
                ]
                for m in self.members
            ],
            "problems": [list(p) for p in self.problems],
            "label_dirs": [list(p) for p in self.label_dirs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ZipScan:
        return cls(
            members=tuple(
                ZipMember(name, label, crc, size, Inspection(size, sha, fmt, w, h, err))
                for name, label, crc, size, sha, fmt, w, h, err in data["members"]
            ),
            problems=tuple((str(a), str(b)) for a, b in data["problems"]),
            label_dirs=tuple((str(a), str(b)) for a, b in data["label_dirs"]),
        )

    def reusable(self) -> dict[tuple[str, int, int], Inspection]:
        """Inspections keyed by (name, CRC-32, size), for re-scanning a changed zip."""
        return {(m.name, m.crc, m.size): m.inspection for m in self.members}


def unsafe_name(name: str) -> str:
    """Why an entry name could escape the extraction folder; "" if it cannot."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        return "absolute path in the zip"
    if ".." in norm.split("/"):
        return "path with '..' (points outside the zip's folder)"
    return ""


def scan_zip(
    path: Path,
    *,
    reporter: Reporter,
    description: str,
    previous: ZipScan | None = None,
) -> ZipScan:
    problems: list[tuple[str, str]] = []
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        problems.append(("", f"not a readable zip file ({e}); re-create it"))
        return ZipScan((), tuple(problems), ())

    with zf:
        candidates: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = info.filename
            why = unsafe_name(name)
            if why:
                problems.append(
                    (
                        name,
                        f"{why}; rejected for safety, re-create the zip with "
                        "paths relative to its top folder",
                    )
                )
                continue
            if info.is_dir() or is_junk(name):
                continue
            mode = info.external_attr >> 16
            if stat_mod.S_ISLNK(mode):
                problems.append(
                    (
                        name,
                        f"symlink entry (to '{_link_target(zf, info)}'); links "
                        "are not followed, store the image itself in the zip",
                    )
                )
                continue
            if info.flag_bits & 0x1:
                problems.append((name, "encrypted entry; re-create the zip without a password"))
                continue
            if name in candidates:
                problems.append((name, "entry appears twice in the zip; re-create the zip"))
                continue
            candidates[name] = info

        declared = sum(info.file_size for info in candidates.values())
        if declared > MAX_ZIP_TOTAL_BYTES:
            problems.append(
                (
                    "",
                    f"entries declare {declared / 1024**3:.1f} GiB uncompressed, "
                    f"more than the {MAX_ZIP_TOTAL_BYTES / 1024**3:.1f} GiB limit "
                    "(possible zip bomb); split the dataset or use a folder source",
                )
            )
            return ZipScan((), tuple(problems), ())

        layout_problems = Problems()
        layout = label_layout(sorted(candidates), layout_problems, "")
        problems.extend((p.where, p.what) for p in layout_problems.items)

        reuse = previous.reusable() if previous is not None else {}
        members: list[tuple[zipfile.ZipInfo, str]] = []
        to_read: list[zipfile.ZipInfo] = []
        known: dict[str, Inspection] = {}
        for name, label in layout.labelled:
            info = candidates[name]
            err = size_error(info.file_size)
            if not err and info.file_size > RATIO_CHECK_MIN_BYTES:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > MAX_COMPRESSION_RATIO:
                    err = (
                        f"compression ratio {ratio:.0f}:1 is above {MAX_COMPRESSION_RATIO}:1 "
                        "(possible zip bomb); images do not compress like that, remove it"
                    )
            if err:
                problems.append((name, err))
                continue
            members.append((info, label))
            hit = reuse.get((name, info.CRC, info.file_size))
            if hit is not None:
                known[name] = hit
            else:
                to_read.append(info)

    # as for folders (parallel.py): many entries on a process per core, a few photos on
    # threads, a few thumbnails here; each worker process opens the zip once per scan
    scan = next(_SCANS)
    work = [(os.fspath(path), scan, info.filename) for info in to_read]
    photos = sum(info.file_size for info in to_read) >= PHOTO_BYTES * len(to_read)
    try:
        if len(to_read) >= PROGRESS_MIN:
            with reporter.task(description, len(to_read)) as task:
                results = map_processes(inspect_members, work, task=task, threads=photos)
        else:
            results = map_processes(inspect_members, work, threads=photos)
    finally:
        _close_readers(scan)
    known.update((info.filename, r) for info, r in zip(to_read, results, strict=True))

    out: list[ZipMember] = []
    for info, label in members:
        insp = known[info.filename]
        if insp.error:
            problems.append((info.filename, insp.error))
        else:
            out.append(ZipMember(info.filename, label, info.CRC, info.file_size, insp))
    return ZipScan(tuple(out), tuple(problems), tuple(sorted(layout.label_dirs.items())))


def _link_target(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > 4096:
        return "?"
    try:
        return zf.read(info).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError):
        return "?"


class _Reader:
    """Reads members from worker threads: one ZipFile per thread (ZipFile is not thread-safe
    to open members from concurrently), with a shared count of actual bytes inflated."""

    def __init__(self, path: Path) -> None:
        self._path = os.fspath(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[zipfile.ZipFile] = []
        self._total = 0

    def _zip(self) -> zipfile.ZipFile:
        zf: zipfile.ZipFile | None = getattr(self._local, "zf", None)
        if zf is None:
            zf = zipfile.ZipFile(self._path)
            self._local.zf = zf
            with self._lock:
                self._opened.append(zf)
        return zf

    def close(self) -> None:
        for zf in self._opened:
            zf.close()

    def info(self, name: str) -> zipfile.ZipInfo:
        return self._zip().getinfo(name)

    def inspect(self, info: zipfile.ZipInfo) -> Inspection:
        limit = min(info.file_size, MAX_IMAGE_BYTES)
        chunks: list[bytes] = []
        n = 0
        try:
            with self._zip().open(info) as f:
                while chunk := f.read(1024 * 1024):
                    n += len(chunk)
                    with self._lock:
                        self._total += len(chunk)
                        total = self._total
                    if n > limit:
                        return Inspection(
                            size=n,
                            error=(
                                f"inflates to more than its declared {info.file_size} bytes "
                                "(possible zip bomb); re-create the zip"
                            ),
                        )
                    if total > MAX_ZIP_TOTAL_BYTES:
                        return Inspection(
                            size=n,
                            error=(
                                "zip inflates to more than the total limit (possible zip bomb); "
                                "split the dataset"
                            ),
                        )
                    chunks.append(chunk)
        except (
            zipfile.BadZipFile,
            zlib.error,
            NotImplementedError,
            RuntimeError,
            OSError,
            EOFError,
        ) as e:
            return Inspection(
                size=info.file_size, error=f"corrupt zip entry ({e}); re-create the zip"
            )
        return inspect_bytes(b"".join(chunks))


# Per process, shared by its threads: (zip path, scan) -> its reader. Keyed by scan too, so
# that two scans at once (say, review's page and a plan in one process) neither share a total
# nor close each other's zip.
_READERS: dict[tuple[str, int], _Reader] = {}
_READERS_LOCK = threading.Lock()
_SCANS = itertools.count()


def inspect_members(work: list[tuple[str, int, str]]) -> list[Inspection]:
    """Inspect (zip path, scan, entry name) items: one task of :func:`parallel.map_processes`.
    The zip is opened once per process, scan and thread; its inflated bytes count against the
    total."""
    out = []
    for path, scan, name in work:
        with _READERS_LOCK:
            reader = _READERS.get((path, scan))
            if reader is None:
                reader = _READERS[path, scan] = _Reader(Path(path))
        out.append(reader.inspect(reader.info(name)))
    return out


def _close_readers(scan: int) -> None:
    """Closes what ``scan`` opened in this process (worker processes exit with theirs)."""
    with _READERS_LOCK:
        for key in [k for k in _READERS if k[1] == scan]:
            _READERS.pop(key).close()
