"""registry_entries' rollout columns: added to databases made before rollouts existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgeops.backends.local.registry import ROLLOUT_COLUMNS, Registry

OLD_TABLE = """
CREATE TABLE registry_entries (
    display_name TEXT PRIMARY KEY, model TEXT NOT NULL, version INTEGER NOT NULL,
    tags TEXT NOT NULL, published INTEGER NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, threshold REAL, updated_at TEXT NOT NULL
);
INSERT INTO registry_entries VALUES ('pets', 'pets', 1, '["a"]', 1, '/m.tflite', 'ab', 3, 0.5,
                                     '2024-01-01');
"""


def _old_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_TABLE)
    db.commit()
    db.close()


def _columns(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {row[1] for row in db.execute("PRAGMA table_info(registry_entries)")}
    finally:
        db.close()


def test_an_old_database_is_read_before_and_after_migration(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    _old_database(path)
    unmigrated = Registry.read_only(path).registry_entries()["pets"]  # what `serve` may see
    assert unmigrated["version"] == 1 and unmigrated["candidate_model"] is None
    assert unmigrated["rollout_percent"] is None

    reg = Registry(path)  # opening it writable migrates it
    assert {name for name, _ in ROLLOUT_COLUMNS} <= _columns(path)
    entry = reg.registry_entries()["pets"]
    assert entry["tags"] == ["a"] and entry["candidate_version"] is None
    Registry(path).close()  # a second open finds nothing to add

    reg.set_publish(
        "publish.pets.registry", "pets", "registry", 1, {}, {},
        registry_entry={
            "display_name": "pets", "model": "pets", "version": 1, "tags": [], "published": True,
            "file": "/m.tflite", "sha256": "ab", "size": 3, "threshold": 0.5,
            "candidate_model": "kittens", "candidate_version": 2, "candidate_file": "/k.tflite",
            "candidate_sha256": "cd", "candidate_threshold": 0.4, "rollout_percent": 12.5,
        },
    )  # fmt: skip
    entry = reg.registry_entries()["pets"]
    assert (entry["candidate_model"], entry["candidate_version"], entry["rollout_percent"]) == (
        "kittens",
        2,
        12.5,
    )
    reg.set_publish(  # the rollout removed: its columns go back to NULL
        "publish.pets.registry", "pets", "registry", 1, {}, {},
        registry_entry={
            "display_name": "pets", "model": "pets", "version": 1, "tags": [], "published": True,
            "file": "/m.tflite", "sha256": "ab", "size": 3, "threshold": 0.5,
        },
    )  # fmt: skip
    entry = reg.registry_entries()["pets"]
    assert entry["candidate_model"] is None and entry["rollout_percent"] is None
    reg.close()
