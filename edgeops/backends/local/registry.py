"""The local backend's registry: one SQLite database (WAL) holding everything edgeops manages.

Writes that belong together happen in one transaction, so a killed apply never leaves a
half-imported dataset or a half-recorded model version.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeops.addresses import model_address, name_of
from edgeops.backends.records import VERSION_FIELDS
from edgeops.state import ImageRow, LiveDataset, LiveModel, LivePublish, LiveVersion

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    address TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    multi_label INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_images (
    address TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    labels TEXT NOT NULL,       -- JSON list, sorted
    split TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (address, sha256)
);
CREATE TABLE IF NOT EXISTS model_versions (
    address TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    eval_fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,       -- training | ready | failed
    blessed INTEGER NOT NULL DEFAULT 0,
    threshold REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    stop_reason TEXT NOT NULL DEFAULT '',
    cost_node_hours REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    files TEXT NOT NULL DEFAULT '{}',
    managed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (address, version)
);
CREATE TABLE IF NOT EXISTS publish (
    address TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registry_entries (
    display_name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    tags TEXT NOT NULL,
    published INTEGER NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    threshold REAL,
    updated_at TEXT NOT NULL
);
"""


# Columns added to registry_entries after its first release, added to existing databases on open
# (ALTER TABLE ... ADD COLUMN): a staged rollout of another model's version under the entry.
ROLLOUT_COLUMNS = (
    ("candidate_model", "TEXT"),
    ("candidate_version", "INTEGER"),
    ("candidate_file", "TEXT"),
    ("candidate_sha256", "TEXT"),
    ("candidate_threshold", "REAL"),
    ("rollout_percent", "REAL"),
)
_VERSION_COLUMNS = ("address", *VERSION_FIELDS)  # model_versions, as read into a LiveVersion
_ENTRY_COLUMNS = (
    "display_name",
    "model",
    "version",
    "tags",
    "published",
    "file",
    "sha256",
    "size",
    "threshold",
    "updated_at",
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry:
    def __init__(
        self,
        path: Path,
        db: sqlite3.Connection | None = None,
        *,
        on_commit: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Open (creating or migrating) the registry at ``path``; ``db``: an open connection
        to use as it is (see ``read_only``); ``on_commit``: called after every committed
        transaction (state kept in a bucket writes the registry there)."""
        self.path = path
        self.on_commit = on_commit
        if db is not None:
            self.db = db
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.db.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        self._migrate()

    def _migrate(self) -> None:
        """Additive migrations of databases made by earlier versions (idempotent; takes the
        write lock only when there is something to add)."""
        if {n for n, _ in ROLLOUT_COLUMNS} <= _columns(self.db, "registry_entries"):
            return
        with self.transaction() as db:
            have = _columns(db, "registry_entries")  # another process may have migrated it
            for name, kind in ROLLOUT_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE registry_entries ADD COLUMN {name} {kind}")

    @classmethod
    def read_only(cls, path: Path) -> Registry:
        """The registry opened read-only, shareable across threads (the prediction server's):
        no schema writes and no migration, so a database an older edgeops made reads as it
        is (``registry_entries`` copes with missing rollout columns)."""
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False
        )
        return cls(path, db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        if self.on_commit is not None:
            self.on_commit(self.db)

    # --- datasets ------------------------------------------------------------------------

    def datasets(self) -> dict[str, LiveDataset]:
        out = {}
        for address, fp, updated in self.db.execute(
            "SELECT address, fingerprint, updated_at FROM datasets ORDER BY address"
        ):
            out[address] = LiveDataset(
                address=address,
                fingerprint=fp,
                images=self.dataset_images(address),
                updated_at=updated,
            )
        return out

    def dataset_images(self, address: str) -> tuple[ImageRow, ...]:
        return tuple(
            ImageRow(sha256=sha, labels=tuple(json.loads(labels)), split=split)
            for sha, labels, split in self.db.execute(
                "SELECT sha256, labels, split FROM dataset_images WHERE address = ? "
                "ORDER BY sha256",
                (address,),
            )
        )

    def replace_dataset(
        self,
        address: str,
        fingerprint: str,
        multi_label: bool,
        rows: list[tuple[str, tuple[str, ...], str, str]],  # sha256, labels, split, source
    ) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM dataset_images WHERE address = ?", (address,))
            db.executemany(
                "INSERT INTO dataset_images(address, sha256, labels, split, source) "
                "VALUES (?, ?, ?, ?, ?)",
                [(address, sha, json.dumps(list(lb)), split, src) for sha, lb, split, src in rows],
            )
            db.execute(
                "INSERT INTO datasets(address, fingerprint, multi_label, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(address) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, multi_label = excluded.multi_label, "
                "updated_at = excluded.updated_at",
                (address, fingerprint, int(multi_label), now()),
            )

    def delete_dataset(self, address: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM dataset_images WHERE address = ?", (address,))
            db.execute("DELETE FROM datasets WHERE address = ?", (address,))

    # --- models --------------------------------------------------------------------------

    def models(self) -> dict[str, LiveModel]:
        by: dict[str, list[LiveVersion]] = {}
        for row in self.db.execute(
            f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions "
            "WHERE managed = 1 ORDER BY address, version"
        ):
            v = _version(row)
            by.setdefault(model_address(v.model), []).append(v)
        return {a: LiveModel(address=a, versions=tuple(vs)) for a, vs in by.items()}

    def begin_version(self, address: str, fingerprint: str, eval_fingerprint: str) -> int:
        """Record a training before it starts; an interrupted one is reused by the next apply."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT version FROM model_versions WHERE address = ? AND fingerprint = ? "
                "AND status IN ('training', 'failed') AND managed = 1 "
                "ORDER BY version DESC LIMIT 1",
                (address, fingerprint),
            ).fetchone()
            if row:
                db.execute(
                    "UPDATE model_versions SET status = 'training', created_at = ? "
                    "WHERE address = ? AND version = ?",
                    (now(), address, row[0]),
                )
                return int(row[0])
            (top,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE address = ?",
                (address,),
            ).fetchone()
            version = int(top) + 1
            db.execute(
                "INSERT INTO model_versions(address, version, fingerprint, eval_fingerprint, "
                "status, created_at) VALUES (?, ?, ?, ?, 'training', ?)",
                (address, version, fingerprint, eval_fingerprint, now()),
            )
            return version

    def finish_version(
        self,
        address: str,
        version: int,
        *,
        status: str,
        eval_fingerprint: str,
        blessed: bool,
        threshold: float | None,
        metrics: dict[str, Any],
        stop_reason: str,
        cost_node_hours: float,
        files: dict[str, str],
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE model_versions SET status = ?, eval_fingerprint = ?, blessed = ?, "
                "threshold = ?, metrics = ?, stop_reason = ?, cost_node_hours = ?, files = ? "
                "WHERE address = ? AND version = ?",
                (
                    status,
                    eval_fingerprint,
                    int(blessed),
                    threshold,
                    json.dumps(metrics, sort_keys=True),
                    stop_reason,
                    cost_node_hours,
                    json.dumps(files, sort_keys=True),
                    address,
                    version,
                ),
            )

    def update_evaluation(
        self,
        address: str,
        version: int,
        *,
        eval_fingerprint: str,
        blessed: bool,
        threshold: float,
        metrics: dict[str, Any],
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE model_versions SET eval_fingerprint = ?, blessed = ?, threshold = ?, "
                "metrics = ? WHERE address = ? AND version = ?",
                (
                    eval_fingerprint,
                    int(blessed),
                    threshold,
                    json.dumps(metrics, sort_keys=True),
                    address,
                    version,
                ),
            )

    def version(self, address: str, version: int) -> LiveVersion | None:
        row = self.db.execute(
            f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions "
            "WHERE address = ? AND version = ?",
            (address, version),
        ).fetchone()
        return _version(row) if row else None

    def delete_versions(self, address: str, versions: list[int]) -> None:
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM model_versions WHERE address = ? AND version = ?",
                [(address, v) for v in versions],
            )

    def unmanage_model(self, address: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE model_versions SET managed = 0 WHERE address = ?", (address,))

    # --- publish -------------------------------------------------------------------------

    def publish_rows(self) -> dict[str, LivePublish]:
        """Every publish target as recorded (its drift is the backend's to add)."""
        return {
            a: LivePublish(
                address=a,
                model=model,
                kind=kind,
                version=int(version),
                spec=json.loads(spec),
                state=json.loads(state),
            )
            for a, model, kind, version, spec, state in self.db.execute(
                "SELECT address, model, kind, version, spec, state FROM publish ORDER BY address"
            )
        }

    def set_publish(
        self,
        address: str,
        model: str,
        kind: str,
        version: int,
        spec: dict[str, Any],
        state: dict[str, Any],
        registry_entry: dict[str, Any] | None = None,
        replaces_entry: str | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO publish(address, model, kind, version, spec, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(address) DO UPDATE SET "
                "model = excluded.model, kind = excluded.kind, version = excluded.version, "
                "spec = excluded.spec, state = excluded.state, updated_at = excluded.updated_at",
                (
                    address,
                    model,
                    kind,
                    version,
                    json.dumps(spec, sort_keys=True),
                    json.dumps(state, sort_keys=True),
                    now(),
                ),
            )
            if registry_entry is not None:
                if replaces_entry and replaces_entry != registry_entry["display_name"]:
                    db.execute(
                        "DELETE FROM registry_entries WHERE display_name = ?", (replaces_entry,)
                    )
                e = {**registry_entry, "tags": json.dumps(registry_entry["tags"])}
                e["published"] = int(e["published"])
                e["updated_at"] = now()
                cols = _ENTRY_COLUMNS + tuple(name for name, _ in ROLLOUT_COLUMNS)
                values = [e.get(c) for c in cols]  # no rollout: its columns are NULL
                db.execute(
                    f"INSERT INTO registry_entries({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' * len(cols))}) ON CONFLICT(display_name) DO UPDATE "
                    "SET " + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]),
                    values,
                )

    def delete_publish(self, address: str, registry_display_name: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM publish WHERE address = ?", (address,))
            if registry_display_name:
                db.execute(
                    "DELETE FROM registry_entries WHERE display_name = ?", (registry_display_name,)
                )

    def registry_entries(self) -> dict[str, dict[str, Any]]:
        """Every entry; the rollout keys are None when the entry has no rollout (or the database
        predates rollouts and is opened read-only, unmigrated)."""
        have = _columns(self.db, "registry_entries")
        extra = tuple(name for name, _ in ROLLOUT_COLUMNS if name in have)
        cols = _ENTRY_COLUMNS + extra
        out = {}
        for row in self.db.execute(
            f"SELECT {', '.join(cols)} FROM registry_entries ORDER BY display_name"
        ):
            e: dict[str, Any] = dict.fromkeys(name for name, _ in ROLLOUT_COLUMNS)
            e.update(zip(cols, row, strict=True))
            e["tags"] = json.loads(e["tags"])
            e["published"] = bool(e["published"])
            out[e["display_name"]] = e
        return out


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _version(row: tuple[Any, ...]) -> LiveVersion:
    """A model_versions row (``_VERSION_COLUMNS``) as the planner sees it."""
    r = dict(zip(_VERSION_COLUMNS, row, strict=True))
    return LiveVersion(
        model=name_of(r["address"]),
        version=int(r["version"]),
        fingerprint=r["fingerprint"],
        eval_fingerprint=r["eval_fingerprint"],
        status=r["status"],
        blessed=bool(r["blessed"]),
        threshold=r["threshold"],
        metrics=json.loads(r["metrics"]),
        stop_reason=r["stop_reason"],
        cost_node_hours=float(r["cost_node_hours"]),
        created_at=r["created_at"],
        files=json.loads(r["files"]),
    )
