"""Retention on the google backend deletes what a deleted version owns outside edgeops' records
(its Vertex AI model and its folder of exported files), and a Vertex AI dataset that held earlier
images once no kept version was trained on it; the plan names each of them first. Through the
real CLI against the fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def pets(google: FakeGoogle, root: Path, make_images: Any, more: str) -> Path:
    """A folder dataset of 24 images, and a model keeping one version (``more``: YAML after)."""
    make_images(root / "data", {"cat": 12, "dog": 12})
    config = root / "edgeops.yaml"
    config.write_text(
        "version: 1\n"
        "backend:\n"
        f"  google: {{project: edgeops-demo, location: us-central1, bucket: {google.bucket}}}\n"  # type: ignore[attr-defined]
        "datasets:\n  pets:\n    source: {folder: data}\n"
        "models:\n  pets:\n    dataset: pets\n    budget: {node_hours: 1}\n    keep: 1\n" + more
    )
    return config


def test_keep_deletes_vertex_models_and_datasets_no_kept_version_uses(
    google: FakeGoogle, tmp_path: Path, make_images: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = google.bucket  # type: ignore[attr-defined]
    config = pets(google, tmp_path, make_images, "")
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    ((first_dataset, _),) = google.datasets.items()
    ((first_model, _),) = google.models.items()

    make_images(tmp_path / "data", {"cat": 3})  # new images: a new Vertex dataset, a retrain
    code = cli.main(["plan", "-f", str(config), "--format", "json"])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0
    changes = [(c["address"], c["action"]) for c in plan["changes"]]
    assert changes == [
        ("dataset.pets", "update"),
        ("model.pets", "train"),
        ("model.pets", "delete"),
        ("dataset.pets", "delete"),
    ]
    delete_version, delete_dataset = plan["changes"][2:]
    assert delete_version["details"]["deletes"] == [
        first_model,
        f"gs://{bucket}/edgeops/models/pets/v1/",
    ]
    assert delete_dataset["details"]["deletes"] == [first_dataset]
    assert delete_dataset["reason_codes"] == ["no_longer_used"]
    code, out = run(capsys, "plan", "-f", str(config))
    assert f"deletes {first_model}" in out and f"deletes {first_dataset}" in out

    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    assert google.deleted == [first_model, first_dataset]
    assert first_model not in google.models and first_dataset not in google.datasets
    assert len(google.models) == 1 and len(google.datasets) == 1  # v2's, and the new images'
    store = google.storage_client.bucket(bucket)
    assert not list(store.list_blobs(prefix="edgeops/models/pets/v1/"))
    code, out = run(capsys, "plan", "-f", str(config))
    assert code == 0 and "No changes." in out, out


def test_a_version_a_target_still_serves_keeps_its_vertex_model_and_dataset(
    google: FakeGoogle,
    tmp_path: Path,
    make_images: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = google.bucket  # type: ignore[attr-defined]
    more = f"    gate: {{min_precision: 0.6}}\npublish:\n  pets:\n    gcs: {{path: gs://{bucket}/app/pets.tflite}}\n"
    config = pets(google, tmp_path, make_images, more)
    google.skill = 1.0  # every image right: v1 passes its gate whatever the images
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    google.skill = 0.0  # the next version misses its gate: the target stays on v1
    make_images(tmp_path / "data", {"cat": 3})
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 1 and "missed its gate" in out, out
    assert "model.pets: kept v1, a publish target still serves it" in out
    assert "kept projects/" in out  # its Vertex dataset too: v1 was trained on it
    assert google.deleted == []
