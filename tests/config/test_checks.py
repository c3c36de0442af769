"""Cross-field checks, tested through the public loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import BundleTarget

from .conftest import Write, problems

LOCAL = """
version: 1
datasets:
  flowers:
    source: {zip: data/flowers.zip}
  pets:
    source: {folder: data/pets}
models:
  flowers:
    dataset: flowers
  pets:
    dataset: pets
"""

GOOGLE = """
version: 1
backend:
  google: {project: my-project, bucket: my-bucket}
datasets:
  flowers:
    source: {csv: data/flowers.csv}
models:
  flowers:
    dataset: flowers
    budget: {node_hours: 1}
"""


def test_unknown_dataset_lists_defined_ones(write: Write) -> None:
    path = write(LOCAL + "  cars:\n    dataset: carz\n  more:\n    dataset: flower\n")
    assert problems(path) == [
        "edgeops.yaml:13: models.cars.dataset: unknown dataset 'carz'; defined datasets: "
        "flowers, pets",
        "edgeops.yaml:15: models.more.dataset: unknown dataset 'flower'; did you mean "
        "'flowers'? (defined datasets: flowers, pets)",
    ]


def test_unknown_dataset_when_none_defined(write: Write) -> None:
    path = write("version: 1\nmodels:\n  m:\n    dataset: d\n")
    assert problems(path) == [
        "edgeops.yaml:4: models.m.dataset: unknown dataset 'd': no datasets are defined; add "
        "it under `datasets:`"
    ]


def test_publish_for_unknown_model(write: Write) -> None:
    path = write(LOCAL + "publish:\n  flower:\n    registry: {display_name: flowers}\n")
    assert problems(path) == [
        "edgeops.yaml:13: publish.flower: unknown model 'flower'; did you mean 'flowers'? "
        "(defined models: flowers, pets)"
    ]


def test_split_must_sum_to_100(write: Write) -> None:
    path = write(LOCAL.replace("data/pets}", "data/pets}\n    split: {train: 80, test: 20}"))
    assert problems(path) == [
        "edgeops.yaml:7: datasets.pets.split: train 80 + validation 10 + test 20 = 110, not "
        "100; make them sum to 100, e.g. train: 70"
    ]


def test_labels_file_only_with_images(write: Write) -> None:
    path = write(LOCAL.replace("{zip: data/flowers.zip}", "{zip: a.zip, labels_file: l.csv}"))
    assert problems(path) == [
        "edgeops.yaml:4: datasets.flowers.source.labels_file: labels_file only works with an "
        "`images` source, not `zip` (which carries its own labels); remove labels_file, or use "
        "`images: <folder>` with it"
    ]


def test_duplicate_names_and_paths_across_models(write: Write) -> None:
    path = write(
        LOCAL
        + """
publish:
  flowers:
    registry: {display_name: shared}
    bundle: {path: app/model.tflite}
    online: {name: served}
  pets:
    registry: {display_name: shared}
    bundle: {path: ./app/../app/model.tflite}
    online: {name: served}
"""
    )
    assert problems(path) == [
        "edgeops.yaml:19: publish.pets.registry.display_name: registry display_name 'shared' "
        "is already used by publish.flowers.registry (line 15); each model needs its own "
        "registry display_name",
        "edgeops.yaml:20: publish.pets.bundle.path: bundle path './app/../app/model.tflite' is "
        "already used by publish.flowers.bundle (line 16); each model needs its own bundle path",
        "edgeops.yaml:21: publish.pets.online.name: online name 'served' is already used by "
        "publish.flowers.online (line 17); each model needs its own online name",
    ]


def test_same_display_name_in_registry_and_firebase_is_fine(write: Write) -> None:
    path = write(
        GOOGLE
        + "publish:\n  flowers:\n    registry: {display_name: x}\n    firebase: {display_name: x}\n"
    )
    assert load_config(path).publish[0].targets[0][0] == "registry"


def test_duplicate_firebase_and_gcs(write: Write) -> None:
    text = GOOGLE.replace("models:", "  pets:\n    source: {zip: p.zip}\nmodels:") + (
        "  pets:\n    dataset: pets\n    budget: {node_hours: 1}\n"
        "publish:\n"
        "  flowers:\n"
        "    firebase: {display_name: fb}\n"
        "    gcs: {path: gs://bkt/m.tflite}\n"
        "  pets:\n"
        "    firebase: {display_name: fb}\n"
        "    gcs: {path: gs://bkt/m.tflite}\n"
    )
    assert problems(write(text)) == [
        "edgeops.yaml:21: publish.pets.firebase.display_name: Firebase display_name 'fb' is "
        "already used by publish.flowers.firebase (line 18); each model needs its own Firebase "
        "display_name",
        "edgeops.yaml:22: publish.pets.gcs.path: gcs path 'gs://bkt/m.tflite' is already used by "
        "publish.flowers.gcs (line 19); each model needs its own gcs path",
    ]


def test_google_only_targets_on_local_backend(write: Write) -> None:
    path = write(
        LOCAL
        + "publish:\n  flowers:\n    firebase: {display_name: f}\n"
        + "    gcs: {path: gs://bucket/f.tflite}\n"
    )
    assert problems(path) == [
        "edgeops.yaml:14: publish.flowers.firebase: `firebase` targets need the google backend, "
        "but this config uses the local backend; use `registry` or `bundle`, or set "
        "`backend: {google: ...}`",
        "edgeops.yaml:15: publish.flowers.gcs: `gcs` targets need the google backend, but this "
        "config uses the local backend; use `registry` or `bundle`, or set "
        "`backend: {google: ...}`",
    ]


def test_online_on_google_backend(write: Write) -> None:
    path = write(GOOGLE + "publish:\n  flowers:\n    online: {name: flowers}\n")
    assert problems(path) == [
        "edgeops.yaml:13: publish.flowers.online: `online` targets need the local backend: "
        "Vertex AI AutoML Edge models cannot be deployed for online prediction; publish with "
        "`gcs`, `firebase`, `registry` or `bundle` instead"
    ]


def test_bundle_path_must_stay_inside_the_config_folder(write: Write) -> None:
    path = write(
        LOCAL
        + "publish:\n  flowers:\n    bundle: {path: ../elsewhere/f.tflite}\n"
        + "  pets:\n    bundle: {path: /tmp/p.tflite}\n"
    )
    assert problems(path) == [
        "edgeops.yaml:14: publish.flowers.bundle.path: '../elsewhere/f.tflite' leaves the "
        "folder of edgeops.yaml; bundle paths must stay inside the repository, e.g. "
        "app/src/main/assets/model.tflite",
        "edgeops.yaml:16: publish.pets.bundle.path: '/tmp/p.tflite' is an absolute path; "
        "bundle paths are relative to the folder of edgeops.yaml and stay inside it, e.g. "
        "app/src/main/assets/model.tflite",
    ]


def test_bundle_path_may_use_dotdot_inside(write: Write) -> None:
    path = write(LOCAL + "publish:\n  flowers:\n    bundle: {path: app/../assets/f.tflite}\n")
    target = load_config(path).publish[0].targets[0][1]
    assert isinstance(target, BundleTarget)
    assert target.path == path.parent / "assets" / "f.tflite"


def test_google_budget_minimum(write: Write) -> None:
    text = GOOGLE.replace("node_hours: 1", "node_hours: 0.5") + "  other:\n    dataset: flowers\n"
    assert problems(write(text)) == [
        "edgeops.yaml:10: models.flowers.budget.node_hours: 0.5 is below the AutoML Edge "
        "minimum of 1 node hour on the google backend; use a number from 1 to 100",
        "edgeops.yaml:11: models.other: budget.node_hours defaults to 0.1, below the AutoML "
        "Edge minimum of 1 node hour on the google backend; add `budget: {node_hours: 1}` (or "
        "more, at most 100)",
    ]


def test_a_lock_must_outlive_a_missed_heartbeat(write: Write) -> None:
    google = GOOGLE.replace(
        "bucket: my-bucket}",
        "bucket: my-bucket, lock: {heartbeat_seconds: 60, stale_after_seconds: 120}}",
    )
    assert problems(write(google)) == [
        "edgeops.yaml:3: backend.google.lock.stale_after_seconds: 120 is not more than twice "
        "heartbeat_seconds (60): an apply that misses one heartbeat would lose its lock to "
        "another while it still runs; use more than 120 (minutes, e.g. 600) or a shorter heartbeat"
    ]
    default_heartbeat = GOOGLE.replace(
        "bucket: my-bucket}", "bucket: my-bucket, lock: {stale_after_seconds: 45}}"
    )
    assert problems(write(default_heartbeat))[0].startswith(
        "edgeops.yaml:3: backend.google.lock.stale_after_seconds: 45 is not more than twice "
        "heartbeat_seconds (30)"
    )
    fine = GOOGLE.replace("bucket: my-bucket}", "bucket: my-bucket, lock: {heartbeat_seconds: 1}}")
    lock = load_config(write(fine)).backend.google.lock  # type: ignore[union-attr]
    assert (lock.heartbeat_seconds, lock.stale_after_seconds) == (1.0, 600.0)


def test_checks_run_only_on_schema_valid_documents(write: Write) -> None:
    # The unknown dataset would be a cross-field problem, but the schema error comes first
    # and is the only one reported: checks can rely on a well-formed document.
    path = write("version: 1\nmodels:\n  m:\n    dataset: nope\n    keep: 0\n")
    (line,) = problems(path)
    assert "models.m.keep: 0 is less than the minimum of 1" in line


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (
            "{local: {path: .edgeops, endpoint_url: 'http://minio:9000'}}",
            "edgeops.yaml:1: backend.local.endpoint_url: an endpoint_url is for state in an "
            "S3-compatible store, but path is '.edgeops'; set path: s3://BUCKET/PREFIX or "
            "remove endpoint_url",
        ),
        (
            "{local: {path: 'gs://team-state/x', lock: {heartbeat_seconds: 400}}}",
            "edgeops.yaml:1: backend.local.lock.stale_after_seconds: 600 is not more than twice "
            "heartbeat_seconds (400)",
        ),
    ],
)
def test_state_location_checks(write: Write, backend: str, message: str) -> None:
    path = write(f"backend: {backend}\nversion: 1\n")
    assert any(line.startswith(message) for line in problems(path)), problems(path)


@pytest.mark.parametrize(
    "where", ["s3://ml-team-state/edgeops/objects", "gs://ml-team-state/edgeops", "state"]
)
def test_state_may_live_in_a_bucket_or_a_folder(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path / "cache"))
    local = load_config(write(f"version: 1\nbackend: {{local: {{path: '{where}'}}}}\n"))
    assert local.backend.local is not None
    spec = local.backend.local
    if "://" in where:
        assert spec.url == where and spec.remote
        assert spec.path.parent == tmp_path / "cache" / "state"  # this machine's working copy
    else:
        assert spec.url == "" and spec.path == tmp_path / "state"
