from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from edgeops.config.model import (
    BudgetSpec,
    DatasetSpec,
    GoogleBackendSpec,
    ModelSpec,
    RegistryTarget,
    SplitSpec,
    StateLockSpec,
    TrainingOptions,
    VsPublished,
)
from edgeops.config.schema import load_schema, schema_text, validator

from .schema_walk import properties

REPO = Path(__file__).resolve().parents[2]
PROPERTIES = list(properties())


def _validator_for(sub: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**sub, "$defs": load_schema()["$defs"]})


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/schema/edgeops.schema.json")
    Draft202012Validator.check_schema(schema)


def test_schema_comes_from_the_repository_in_a_checkout() -> None:
    repo_file = REPO / "schema" / "edgeops.schema.json"
    assert json.loads(schema_text()) == json.loads(repo_file.read_text())
    assert load_schema() is load_schema()  # cached
    assert validator() is validator()


def test_walk_sees_the_whole_language() -> None:
    paths = {p for p, _ in PROPERTIES}
    assert len(paths) > 50
    for expected in (
        "version",
        "backend.google.price_per_node_hour",
        "datasets.<name>.source.labels_file",
        "models.<name>.threshold.max_f1",
        "publish.<name>.gcs.format",
    ):
        assert expected in paths


@pytest.mark.parametrize(("path", "prop"), PROPERTIES, ids=[p for p, _ in PROPERTIES])
def test_every_property_has_description_and_examples(path: str, prop: dict[str, Any]) -> None:
    assert len(prop.get("description", "")) >= 15, f"{path}: no useful description"
    assert prop.get("examples"), f"{path}: no examples"


@pytest.mark.parametrize(("path", "prop"), PROPERTIES, ids=[p for p, _ in PROPERTIES])
def test_examples_and_defaults_are_valid(path: str, prop: dict[str, Any]) -> None:
    check = _validator_for(prop)
    for example in prop.get("examples", []):
        if isinstance(example, str) and "${" in example:
            continue  # an interpolation example: valid once the variable is set
        errors = [e.message for e in check.iter_errors(example)]
        assert not errors, f"{path}: example {example!r}: {errors}"
    if "default" in prop:
        assert not list(check.iter_errors(prop["default"])), f"{path}: default"


def _objects(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_every_object_refuses_unknown_keys() -> None:
    objects = _objects(load_schema())
    assert len(objects) > 15
    for node in objects:
        assert node.get("additionalProperties") is False, node.get("description")


@pytest.mark.parametrize("example", sorted(REPO.glob("examples/*/edgeops.yaml")))
def test_examples_validate_against_the_raw_schema(example: Path) -> None:
    # What editors and the pre-commit hook see, without the loader.
    document = yaml.safe_load(example.read_text())
    assert not [e.message for e in validator().iter_errors(document)]


def _default(pointer: str) -> Any:
    node: Any = load_schema()
    for part in pointer.split("/"):
        node = node[part]
    return node["default"]


P = "$defs/model/properties"
DEFAULTS = [
    (f"{P}/optimize_for", ModelSpec(name="m", dataset="d").optimize_for),
    (f"{P}/budget/properties/node_hours", BudgetSpec().node_hours),
    (f"{P}/budget/properties/early_stopping", BudgetSpec().early_stopping),
    (f"{P}/threshold", {"value": ModelSpec(name="m", dataset="d").threshold.value}),
    (f"{P}/training/properties/seed", TrainingOptions().seed),
    (f"{P}/training/properties/augment", TrainingOptions().augment),
    (f"{P}/training/properties/label_smoothing", TrainingOptions().label_smoothing),
    (f"{P}/training/properties/fine_tune", TrainingOptions().fine_tune),
    ("$defs/dataset/properties/split/properties/train", SplitSpec().train),
    ("$defs/dataset/properties/split/properties/validation", SplitSpec().validation),
    ("$defs/dataset/properties/split/properties/test", SplitSpec().test),
    (
        "$defs/dataset/properties/multi_label",
        DatasetSpec.__dataclass_fields__["multi_label"].default,
    ),
    ("$defs/google_backend/properties/location", GoogleBackendSpec(project="p").location),
    ("$defs/google_backend/properties/prefix", GoogleBackendSpec(project="p").prefix),
    (
        "$defs/google_backend/properties/firebase_project",
        GoogleBackendSpec(project="p").firebase_project,
    ),
    (
        "$defs/publish_targets/properties/registry/properties/published",
        RegistryTarget(display_name="x").published,
    ),
    (
        "$defs/publish_targets/properties/registry/properties/protect",
        RegistryTarget(display_name="x").protect,
    ),
    (
        "$defs/google_backend/properties/price_per_node_hour",
        GoogleBackendSpec(project="p").price_per_node_hour,
    ),
    ("$defs/state_lock/properties/heartbeat_seconds", StateLockSpec().heartbeat_seconds),
    ("$defs/state_lock/properties/stale_after_seconds", StateLockSpec().stale_after_seconds),
    (
        "$defs/state_lock",
        {f: getattr(StateLockSpec(), f) for f in ("heartbeat_seconds", "stale_after_seconds")},
    ),
    (f"{P}/gate/properties/vs_published/properties/metric", VsPublished().metric),
    (f"{P}/gate/properties/vs_published/properties/max_drop", VsPublished().max_drop),
]


@pytest.mark.parametrize(("pointer", "dataclass_default"), DEFAULTS)
def test_schema_defaults_match_dataclass_defaults(pointer: str, dataclass_default: Any) -> None:
    assert _default(pointer) == dataclass_default
