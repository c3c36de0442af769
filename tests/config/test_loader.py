from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import (
    BundleTarget,
    Config,
    GcsTarget,
    RegistryTarget,
    StateLockSpec,
    ThresholdRule,
)

from .conftest import MINIMAL, Write, problems

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/*/edgeops.yaml"))

# The same config with every default written out.
EXPLICIT = """
version: 1
backend:
  local: {path: .edgeops}
datasets:
  flowers:
    source: {zip: data/flowers.zip}
    multi_label: false
    split: {train: 80, validation: 10, test: 10}
models:
  flowers:
    dataset: flowers
    optimize_for: latency
    budget: {node_hours: 0.1, early_stopping: true}
    threshold: {value: 0.5}
    gate: {}
    training: {seed: 0, augment: true, label_smoothing: 0.1, fine_tune: auto}
publish:
  flowers:
    registry: {display_name: flowers, tags: [], published: true, protect: true}
    bundle: {path: app/flowers.tflite, format: int8, protect: true}
"""

GOOGLE_FULL = """
version: 1
backend:
  google:
    project: my-project
    location: europe-west4
    bucket: my-bucket
    prefix: teams/vision
    price_per_node_hour: 20
    firebase_project: my-firebase
    lock: {heartbeat_seconds: 10, stale_after_seconds: 900}
datasets:
  pets:
    source: {images: data/unlabelled, labels_file: data/labels.csv}
    multi_label: true
    split: {train: 70, validation: 15, test: 15}
models:
  pets:
    dataset: pets
    optimize_for: accuracy
    budget: {node_hours: 2, early_stopping: false}
    threshold: {target_precision: 0.9}
    gate: {min_precision: 0.8, min_recall: 0.7, min_au_prc: 0.85}
    training: {seed: 7, augment: false, label_smoothing: 0, fine_tune: never, class_weights: none}
    keep: 5
publish:
  pets:
    gcs: {path: gs://my-bucket/models/pets.tflite, format: float32, protect: false}
    firebase: {display_name: pets, tags: [prod, v2], published: false}
    registry: {display_name: pets, version: 3}
"""


def _without_lines(config: Config) -> Config:
    """Positions are for messages only; compare specs without them."""
    return dataclasses.replace(
        config,
        datasets=tuple(dataclasses.replace(d, line=0) for d in config.datasets),
        models=tuple(dataclasses.replace(m, line=0) for m in config.models),
        publish=tuple(dataclasses.replace(p, line=0) for p in config.publish),
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_loads(example: Path) -> None:
    config = load_config(example)
    assert config.path == example.resolve()
    assert config.datasets  # every example declares data; models are optional


def test_there_are_examples() -> None:
    assert EXAMPLES


def test_minimal_config_gets_defaults(write: Write, tmp_path: Path) -> None:
    config = load_config(write(MINIMAL))
    assert config.version == 1
    assert config.backend.kind == "local"
    assert config.backend.local is not None
    assert config.backend.local.path == tmp_path / ".edgeops"
    (dataset,) = config.datasets
    assert dataset.source.kind == "zip"
    assert dataset.source.path == tmp_path / "data" / "flowers.zip"
    assert (dataset.split.train, dataset.split.validation, dataset.split.test) == (80, 10, 10)
    (model,) = config.models
    assert model.threshold == ThresholdRule(value=0.5)
    assert model.keep is None
    (publish,) = config.publish
    assert [kind for kind, _ in publish.targets] == ["registry", "bundle"]
    assert publish.targets[1][1] == BundleTarget(path=tmp_path / "app" / "flowers.tflite")


def test_explicit_defaults_equal_omitted_ones(write: Write) -> None:
    minimal = load_config(write(MINIMAL))
    explicit = load_config(write(EXPLICIT))
    assert explicit.datasets[0].line != minimal.datasets[0].line  # recorded lines differ...
    assert explicit == minimal  # ...but line fields are not compared: the specs are equal
    assert _without_lines(explicit) == _without_lines(minimal)


def test_full_google_config(write: Write, tmp_path: Path) -> None:
    config = load_config(write(GOOGLE_FULL))
    google = config.backend.google
    assert config.backend.kind == "google" and google is not None
    assert (google.project, google.location, google.bucket) == (
        "my-project",
        "europe-west4",
        "my-bucket",
    )
    assert google.price_per_node_hour == 20.0 and isinstance(google.price_per_node_hour, float)
    assert google.firebase_project == "my-firebase"
    assert google.lock == StateLockSpec(heartbeat_seconds=10.0, stale_after_seconds=900.0)
    assert isinstance(google.lock.heartbeat_seconds, float)
    (dataset,) = config.datasets
    assert dataset.source.kind == "images"
    assert dataset.source.labels_file == tmp_path / "data" / "labels.csv"
    assert dataset.multi_label is True
    (model,) = config.models
    assert model.optimize_for == "accuracy"
    assert model.budget.node_hours == 2.0 and isinstance(model.budget.node_hours, float)
    assert model.threshold == ThresholdRule(target_precision=0.9)
    assert model.gate.min_au_prc == 0.85
    assert model.training.fine_tune == "never" and model.training.seed == 7
    assert model.training.class_weights == "none"
    assert model.keep == 5
    (publish,) = config.publish
    # Targets come in a fixed order whatever the YAML order, so reordering changes nothing.
    assert [kind for kind, _ in publish.targets] == ["registry", "firebase", "gcs"]
    assert publish.targets[0][1] == RegistryTarget(display_name="pets", version=3)
    assert publish.targets[2][1] == GcsTarget(
        path="gs://my-bucket/models/pets.tflite", format="float32", protect=False
    )


def test_line_fields_come_from_yaml(write: Write) -> None:
    config = load_config(write(MINIMAL))
    assert config.datasets[0].line == 3
    assert config.models[0].line == 6
    assert config.publish[0].line == 9


def test_max_f1_threshold(write: Write) -> None:
    config = load_config(
        write(
            MINIMAL.replace("dataset: flowers", "dataset: flowers\n    threshold: {max_f1: true}")
        )
    )
    assert config.models[0].threshold == ThresholdRule(max_f1=True)


def test_problems_are_capped(write: Write) -> None:
    body = "".join(f"  d{i}:\n    sorce: {{zip: x.zip}}\n" for i in range(30))
    lines = problems(write("version: 1\ndatasets:\n" + body))
    assert len(lines) == 21
    assert lines[-1] == "... and 40 more problems"  # 30 unknown keys + 30 missing sources
