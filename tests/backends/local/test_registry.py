"""The SQLite registry: WAL, all-or-nothing dataset replacement, resumable model versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops.backends.local.registry import Registry
from edgeops.state import ImageRow, LivePublish

ROWS = [
    ("a" * 64, ("cat",), "train", "data/cat/1.png"),
    ("b" * 64, ("dog",), "test", "data/dog/1.png"),
]


@pytest.fixture
def reg(tmp_path: Path):  # noqa: ANN201
    r = Registry(tmp_path / ".edgeops" / "registry.sqlite")
    yield r
    r.close()


def test_wal_mode_is_on(reg: Registry) -> None:
    (mode,) = reg.db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_reopening_keeps_data_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    first = Registry(path)
    first.replace_dataset("dataset.pets", "fp1", False, ROWS)
    first.close()
    again = Registry(path)
    assert again.datasets()["dataset.pets"].fingerprint == "fp1"
    assert again.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        "1",
    )
    again.close()


def test_replace_dataset_round_trips(reg: Registry) -> None:
    reg.replace_dataset("dataset.pets", "fp1", False, ROWS)
    live = reg.datasets()["dataset.pets"]
    assert live.fingerprint == "fp1" and live.updated_at
    assert live.images == (
        ImageRow("a" * 64, ("cat",), "train"),
        ImageRow("b" * 64, ("dog",), "test"),
    )
    reg.replace_dataset("dataset.pets", "fp2", False, ROWS[:1])
    assert reg.dataset_images("dataset.pets") == (ImageRow("a" * 64, ("cat",), "train"),)
    assert reg.datasets()["dataset.pets"].fingerprint == "fp2"


def test_replace_dataset_is_all_or_nothing(reg: Registry) -> None:
    reg.replace_dataset("dataset.pets", "fp1", False, ROWS)
    duplicate = [ROWS[0], ("c" * 64, ("cat",), "train", "x"), ROWS[0]]  # violates the primary key
    with pytest.raises(Exception, match="UNIQUE"):
        reg.replace_dataset("dataset.pets", "fp2", False, duplicate)
    assert reg.datasets()["dataset.pets"].fingerprint == "fp1"
    assert [r.sha256 for r in reg.dataset_images("dataset.pets")] == ["a" * 64, "b" * 64]


def test_a_raise_inside_a_transaction_rolls_everything_back(reg: Registry) -> None:
    reg.replace_dataset("dataset.pets", "fp1", False, ROWS)
    with pytest.raises(KeyboardInterrupt), reg.transaction() as db:
        db.execute("DELETE FROM dataset_images WHERE address = 'dataset.pets'")
        db.execute("UPDATE datasets SET fingerprint = 'half' WHERE address = 'dataset.pets'")
        raise KeyboardInterrupt
    assert reg.datasets()["dataset.pets"].fingerprint == "fp1"
    assert len(reg.dataset_images("dataset.pets")) == 2
    # and the connection is usable afterwards (no transaction left open)
    reg.replace_dataset("dataset.other", "fp9", False, ROWS[:1])
    assert set(reg.datasets()) == {"dataset.other", "dataset.pets"}


def test_delete_dataset(reg: Registry) -> None:
    reg.replace_dataset("dataset.pets", "fp1", False, ROWS)
    reg.delete_dataset("dataset.pets")
    assert reg.datasets() == {} and reg.dataset_images("dataset.pets") == ()


def _finish(reg: Registry, version: int, status: str = "ready") -> None:
    reg.finish_version(
        "model.pets",
        version,
        status=status,
        eval_fingerprint="e1",
        blessed=status == "ready",
        threshold=0.5 if status == "ready" else None,
        metrics={"inputs": {"dataset": "fp1"}},
        stop_reason="early stopping",
        cost_node_hours=0.01,
        files={"model_int8.tflite": "f" * 64},
    )


def test_begin_version_numbers_versions_and_reuses_an_interrupted_one(reg: Registry) -> None:
    assert reg.begin_version("model.pets", "t1", "e1") == 1
    # the process died while training v1: the next apply of the same fingerprint resumes it
    assert reg.begin_version("model.pets", "t1", "e1") == 1
    _finish(reg, 1)
    assert reg.begin_version("model.pets", "t1", "e1") == 2  # a ready one is never reused
    assert reg.begin_version("model.pets", "t2", "e1") == 3  # another fingerprint: a new row
    assert reg.begin_version("model.other", "t1", "e1") == 1
    statuses = [(v.version, v.status) for v in reg.models()["model.pets"].versions]
    assert statuses == [(1, "ready"), (2, "training"), (3, "training")]


def test_begin_version_reuses_a_failed_one(reg: Registry) -> None:
    assert reg.begin_version("model.pets", "t1", "e1") == 1
    _finish(reg, 1, status="failed")
    assert reg.begin_version("model.pets", "t1", "e1") == 1
    assert reg.version("model.pets", 1).status == "training"  # type: ignore[union-attr]


def test_finished_version_round_trips(reg: Registry) -> None:
    reg.begin_version("model.pets", "t1", "e0")
    _finish(reg, 1)
    v = reg.version("model.pets", 1)
    assert v is not None
    assert (v.model, v.status, v.blessed, v.threshold, v.eval_fingerprint) == (
        "pets",
        "ready",
        True,
        0.5,
        "e1",
    )
    assert v.metrics == {"inputs": {"dataset": "fp1"}} and v.files == {
        "model_int8.tflite": "f" * 64
    }
    reg.update_evaluation(
        "model.pets", 1, eval_fingerprint="e2", blessed=False, threshold=0.7, metrics={}
    )
    v = reg.version("model.pets", 1)
    assert v is not None and (v.eval_fingerprint, v.blessed, v.threshold) == ("e2", False, 0.7)


def test_unmanaged_and_deleted_versions_are_not_listed(reg: Registry) -> None:
    for fp in ("t1", "t2", "t3"):
        reg.begin_version("model.pets", fp, "e1")
    reg.delete_versions("model.pets", [1, 2])
    assert [v.version for v in reg.models()["model.pets"].versions] == [3]
    reg.unmanage_model("model.pets")
    assert reg.models() == {}
    # numbering continues after forgotten versions: a re-added model never reuses v3
    assert reg.begin_version("model.pets", "t4", "e1") == 4


def test_publish_rows_and_registry_entries(reg: Registry) -> None:
    entry = {
        "display_name": "pets",
        "model": "pets",
        "version": 1,
        "tags": ["prod"],
        "published": True,
        "file": "/x/model_int8.tflite",
        "sha256": "f" * 64,
        "size": 10,
        "threshold": 0.5,
    }
    reg.set_publish(
        "publish.pets.registry", "pets", "registry", 1, {"display_name": "pets"}, {"v": 1}, entry
    )
    renamed = {**entry, "display_name": "pets-2", "version": 2}
    reg.set_publish(
        "publish.pets.registry",
        "pets",
        "registry",
        2,
        {"display_name": "pets-2"},
        {"v": 2},
        renamed,
        replaces_entry="pets",
    )
    assert reg.publish_rows() == {
        "publish.pets.registry": LivePublish(
            address="publish.pets.registry",
            model="pets",
            kind="registry",
            version=2,
            spec={"display_name": "pets-2"},
            state={"v": 2},
        )
    }
    entries = reg.registry_entries()
    assert list(entries) == ["pets-2"] and entries["pets-2"]["tags"] == ["prod"]
    reg.delete_publish("publish.pets.registry", "pets-2")
    assert reg.publish_rows() == {} and reg.registry_entries() == {}


def test_an_interrupted_version_of_a_forgotten_model_is_not_reused(reg: Registry) -> None:
    assert reg.begin_version("model.pets", "t1", "e1") == 1  # interrupted, then forgotten
    reg.unmanage_model("model.pets")
    # the model is added back with the same inputs: its new version must be visible
    version = reg.begin_version("model.pets", "t1", "e1")
    _finish(reg, version)
    assert [v.version for v in reg.models()["model.pets"].versions] == [version]
