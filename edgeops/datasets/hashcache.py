"""Per-file inspection cache in SQLite, so planning an unchanged dataset re-reads nothing.

- file_sets: per ``scope`` (the source path: a folder, CSV or images folder), batches of files,
  each path with (size, mtime_ns, inode) -> the file's Inspection (sha256, format, width,
  height) or its rejection reason, as columns of JSON. A scan appends one batch per few thousand
  files it read (so an interrupted scan keeps them), a later batch overriding an earlier one for
  the same path and naming the paths to forget; past ``MAX_SETS`` batches a scope is rewritten as
  one. Loading a source is one query and one JSON parse per batch, and storing 100k files one
  JSON text per batch: as SQLite rows, 0.7 s of CPU for each (bench/plan_scaling.py).
- zips: zip path with (size, mtime_ns, inode) -> the whole zip's scan (members with their CRCs,
  inspections and structural problems) as JSON, so an unchanged zip is not even opened.
- snapshots: a folder source -> its folders, file stats and Manifest (``snapshot.py``), so an
  unchanged folder source is neither listed nor assembled again.

A row is used only when all of size, mtime_ns and inode match. ``SCHEMA_VERSION`` changes when
the checks change, which drops every cached verdict. A cache that cannot be opened is not an
error: the scan just reads everything (the caller is told why).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from edgeops import fastjson
from edgeops.datasets.images import Inspection
from edgeops.datasets.sources import FileStat

SCHEMA_VERSION = 2  # 2: files as batches of columns (file_sets), not a row each
MAX_SETS = 32  # batches per scope before they are rewritten as one


class CachedFile(NamedTuple):
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    format: str
    width: int
    height: int
    error: str

    def matches(self, st: FileStat) -> bool:
        return (self.size, self.mtime_ns, self.inode) == (st.size, st.mtime_ns, st.inode)

    @property
    def inspection(self) -> Inspection:
        return Inspection(self.size, self.sha256, self.format, self.width, self.height, self.error)


class StoredSnapshot(NamedTuple):
    """A folder source's snapshot as kept (``snapshot.py`` makes and reads it)."""

    inputs: str
    folders: str
    stats: str
    manifest: str


class HashCache:
    """Opened by one scan, used from one thread (results are written in batches)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(os.fspath(path), timeout=30)
        self.problem = ""  # set when a read or write failed; the scan goes on without it
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._db.executescript(
                    f"""
                    DROP TABLE IF EXISTS files;
                    DROP TABLE IF EXISTS file_sets;
                    DROP TABLE IF EXISTS zips;
                    DROP TABLE IF EXISTS snapshots;
                    CREATE TABLE file_sets (
                        scope TEXT NOT NULL, seq INTEGER NOT NULL, files TEXT NOT NULL,
                        PRIMARY KEY (scope, seq)
                    );
                    CREATE TABLE zips (
                        path TEXT PRIMARY KEY,
                        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
                        scan TEXT NOT NULL
                    );
                    PRAGMA user_version = {SCHEMA_VERSION};
                    """
                )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS snapshots (scope TEXT PRIMARY KEY, "
                "inputs TEXT NOT NULL, folders TEXT NOT NULL, stats TEXT NOT NULL, "
                "manifest TEXT NOT NULL)"
            )
        except sqlite3.Error:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def _failed(self, e: sqlite3.Error) -> None:
        self.problem = self.problem or f"hash cache unusable ({e}); the next scan re-reads files"

    def __enter__(self) -> HashCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # files

    def load_files(self, scope: str) -> dict[str, CachedFile]:
        try:
            return self._files(scope)
        except sqlite3.Error as e:
            self._failed(e)
            return {}
        except (ValueError, KeyError, TypeError):
            return {}  # not what this version writes: read every file again

    def _files(self, scope: str) -> dict[str, CachedFile]:
        """``scope``'s batches applied in order; raises on a batch this version cannot read."""
        files: dict[str, CachedFile] = {}
        for (text,) in self._db.execute(
            "SELECT files FROM file_sets WHERE scope = ? ORDER BY seq", (scope,)
        ).fetchall():
            _merge(files, fastjson.loads(text))
        return files

    def store_files(
        self,
        scope: str,
        rows: Iterable[tuple[str, Sequence[Any]]],
        forget: Iterable[str] = (),
    ) -> None:
        """Keep each file's row, (path, (size, mtime_ns, inode, *its Inspection's fields)) as
        ``images.inspect_path`` makes it, and drop what is kept of ``forget``: one batch."""
        try:
            self._store_files(scope, rows, forget)
        except sqlite3.Error as e:
            self._failed(e)

    def _store_files(
        self, scope: str, rows: Iterable[tuple[str, Sequence[Any]]], forget: Iterable[str]
    ) -> None:
        batch = _batch(rows, forget)
        if not batch["path"] and not batch["forget"]:
            return
        with self._db:
            self._db.execute(
                "INSERT INTO file_sets VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                "file_sets WHERE scope = ?), ?)",
                (scope, scope, fastjson.dumps(batch)),
            )
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM file_sets WHERE scope = ?", (scope,)
            ).fetchone()
            if count > MAX_SETS:  # rewritten as one, in the same transaction
                files = self._files(scope)
                self._db.execute("DELETE FROM file_sets WHERE scope = ?", (scope,))
                whole = _batch(((p, (*f[:3], *f.inspection)) for p, f in files.items()), ())
                self._db.execute(
                    "INSERT INTO file_sets VALUES (?, 1, ?)", (scope, fastjson.dumps(whole))
                )

    # folder snapshots

    def load_snapshot(self, scope: str) -> StoredSnapshot | None:
        try:
            row = self._db.execute(
                "SELECT inputs, folders, stats, manifest FROM snapshots WHERE scope = ?", (scope,)
            ).fetchone()
        except sqlite3.Error as e:
            self._failed(e)
            return None
        return StoredSnapshot(*row) if row is not None else None

    def store_snapshot(self, scope: str, snapshot: StoredSnapshot | None) -> None:
        """Keep ``snapshot`` for ``scope``, or forget the one kept (None)."""
        try:
            with self._db:
                self._db.execute("DELETE FROM snapshots WHERE scope = ?", (scope,))
                if snapshot is not None:
                    self._db.execute(
                        "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)", (scope, *snapshot)
                    )
        except sqlite3.Error as e:
            self._failed(e)

    # zips

    def load_zip(self, st: FileStat) -> tuple[bool, dict[str, Any] | None]:
        """(key matches, the stored scan). The scan of a changed zip is still returned so that
        members with an unchanged (name, CRC, size) need not be re-read."""
        try:
            row = self._db.execute(
                "SELECT size, mtime_ns, inode, scan FROM zips WHERE path = ?", (st.path,)
            ).fetchone()
        except sqlite3.Error as e:
            self._failed(e)
            return False, None
        if row is None:
            return False, None
        size, mtime, inode, scan = row
        try:
            data = json.loads(scan)
        except ValueError:
            return False, None
        return (size, mtime, inode) == (st.size, st.mtime_ns, st.inode), data

    def store_zip(self, st: FileStat, scan: dict[str, Any]) -> None:
        blob = json.dumps(scan, separators=(",", ":"))
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO zips VALUES (?, ?, ?, ?, ?)",
                    (st.path, st.size, st.mtime_ns, st.inode, blob),
                )
        except sqlite3.Error as e:
            self._failed(e)


FIELDS = ("size", "mtime_ns", "inode", "sha256", "format", "width", "height", "error")


def _batch(rows: Iterable[tuple[str, Sequence[Any]]], forget: Iterable[str]) -> dict[str, Any]:
    """One batch of files as stored: a column per field (and the paths it forgets)."""
    paths: list[str] = []
    table: list[Sequence[Any]] = []
    for path, row in rows:
        paths.append(path)
        table.append(row)
    # a reader's row: size, mtime_ns, inode, then the Inspection (whose own size is skipped)
    columns = list(zip(*table, strict=True)) if table else [()] * 9
    kept = columns[:3] + columns[4:]
    return {"path": paths, **dict(zip(FIELDS, kept, strict=True)), "forget": list(forget)}


def _merge(files: dict[str, CachedFile], batch: dict[str, Any]) -> None:
    """Apply one stored batch to ``files`` (path -> CachedFile): its forgets, then its files."""
    for path in batch["forget"]:
        files.pop(path, None)
    paths = batch["path"]
    columns = [batch[f] for f in FIELDS]
    if any(len(c) != len(paths) for c in columns):
        raise ValueError("file_sets columns of different lengths")
    files.update(zip(paths, map(CachedFile, *columns), strict=True))


def open_cache(path: Path) -> tuple[HashCache | None, str]:
    """The cache, or (None, why it is unusable)."""
    try:
        return HashCache(path), ""
    except (sqlite3.Error, OSError) as e:
        return None, f"hash cache {path} is unusable ({e}); scanning without it"
