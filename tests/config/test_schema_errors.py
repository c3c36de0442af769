"""Schema errors as messages: what is wrong, where, and how to fix it (never the schema)."""

from __future__ import annotations

from .conftest import MINIMAL, Write, problems


def test_exclusive_minimum_message(write: Write) -> None:
    path = write(
        MINIMAL.replace("dataset: flowers", "dataset: flowers\n    budget: {node_hours: 0}")
    )
    assert problems(path) == [
        "edgeops.yaml:8: models.flowers.budget.node_hours: 0 is not greater than the minimum "
        "of 0 (exclusive); use a number greater than 0 and at most 100, e.g. 0.5"
    ]


def test_unknown_key_suggests_closest(write: Write) -> None:
    path = write(MINIMAL.replace("dataset: flowers", "dataset: flowers\n    optimise_for: latency"))
    assert problems(path) == [
        "edgeops.yaml:8: models.flowers.optimise_for: unknown key 'optimise_for'; "
        "did you mean 'optimize_for'?"
    ]


def test_unknown_key_without_close_match_lists_valid_keys(write: Write) -> None:
    path = write(MINIMAL.replace("    bundle:", "    play_store: {}\n    bundle:"))
    assert problems(path) == [
        "edgeops.yaml:11: publish.flowers.play_store: unknown key 'play_store'; valid keys "
        "here: registry, bundle, firebase, online, gcs, mlflow"
    ]


def test_invalid_name_suggests_a_valid_one(write: Write) -> None:
    path = write(MINIMAL.replace("  flowers:\n    source", "  My Flowers:\n    source"))
    lines = problems(path)
    assert lines[0] == (
        "edgeops.yaml:3: datasets.My Flowers: 'My Flowers' is not a valid dataset name; use "
        "lowercase letters, digits, '_' or '-', starting with a letter (at most 63), "
        "e.g. 'my_flowers'"
    )


def test_wrong_types(write: Write) -> None:
    path = write(
        """
        version: 1
        datasets:
          d:
            source: {zip: x.zip}
            multi_label: "yes"
            split: {train: "80", validation: 10, test: 10}
        models:
          m:
            dataset: d
            keep: 2.5
        publish:
          m:
            registry: {display_name: m, tags: [no]}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:5: datasets.d.multi_label: expected true or false, got text 'yes'; "
        "e.g. false",
        "edgeops.yaml:6: datasets.d.split.train: expected a whole number, got text '80'; "
        "remove the quotes: 80",
        "edgeops.yaml:10: models.m.keep: expected a whole number, got a number 2.5; e.g. 5",
        "edgeops.yaml:13: publish.m.registry.tags[0]: expected text, got a boolean false "
        "(YAML reads no as false); quote it: 'no'",
    ]


def test_empty_value(write: Write) -> None:
    path = write("version: 1\ndatasets:\n")
    assert problems(path) == [
        "edgeops.yaml:2: datasets: is empty, expected a mapping (key: value); give it a value "
        "or remove the key"
    ]


def test_enum_lists_valid_values(write: Write) -> None:
    path = write(MINIMAL.replace("dataset: flowers", "dataset: flowers\n    optimize_for: fast"))
    assert problems(path) == [
        "edgeops.yaml:8: models.flowers.optimize_for: 'fast' is not one of: latency, balanced, "
        "accuracy; use one of them, e.g. latency"
    ]


def test_class_weights_lists_its_values(write: Write) -> None:
    path = write(
        MINIMAL.replace(
            "dataset: flowers", "dataset: flowers\n    training: {class_weights: balanced}"
        )
    )
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:8: models.flowers.training.class_weights: 'balanced'")
    assert "is not one of: auto, none" in line


def test_enum_suggests_close_value(write: Write) -> None:
    path = write(
        MINIMAL.replace(
            "bundle: {path: app/flowers.tflite}",
            "bundle: {path: app/flowers.tflite, format: int08}",
        )
    )
    (line,) = problems(path)
    assert line.endswith("'int08' is not one of: int8, float32; did you mean 'int8'?")


def test_missing_required_keys(write: Write) -> None:
    path = write(
        """
        datasets:
          d:
            split: {train: 80, validation: 10, test: 10}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:1: version: missing required key 'version'; add it, e.g. `version: 1`",
        "edgeops.yaml:2: datasets.d.source: missing required key 'source'; add it, e.g. "
        "`source: {zip: data/flowers.zip}`",
    ]


def test_version_must_be_1(write: Write) -> None:
    path = write(MINIMAL.replace("version: 1", "version: 2"))
    assert problems(path) == ["edgeops.yaml:1: version: 2 is not allowed here; write `version: 1`"]


def test_exactly_one_source_and_threshold(write: Write) -> None:
    path = write(
        """
        version: 1
        datasets:
          d:
            source: {zip: x.zip, folder: x}
          e:
            source: {}
        models:
          m:
            dataset: d
            threshold: {value: 0.5, max_f1: true}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:4: datasets.d.source: has zip and folder, but exactly one of zip, folder, "
        "csv, images is allowed; keep one",
        "edgeops.yaml:6: datasets.e.source: needs exactly one of: zip, folder, csv, images; "
        "add one",
        "edgeops.yaml:10: models.m.threshold: has value and max_f1, but exactly one of value, "
        "target_precision, target_recall, max_f1 is allowed; keep one",
    ]


def test_patterns_and_ranges(write: Write) -> None:
    path = write(
        """
        version: 1
        datasets:
          d:
            source: {zip: x.zip}
            split: {train: 0, validation: 50, test: 50}
        models:
          m:
            dataset: d
            gate: {min_precision: 1.5}
            training: {label_smoothing: 0.9}
        publish:
          m:
            registry: {display_name: "my model!", tags: [a, a]}
            bundle: {path: model.tfl}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:5: datasets.d.split.train: 0 is less than the minimum of 1; use a whole "
        "number from 1 to 98, e.g. 80",
        "edgeops.yaml:9: models.m.gate.min_precision: 1.5 is greater than the maximum of 1; "
        "use a number from 0 to 1, e.g. 0.8",
        "edgeops.yaml:10: models.m.training.label_smoothing: 0.9 is greater than the maximum "
        "of 0.5; use a number from 0 to 0.5, e.g. 0.1",
        "edgeops.yaml:13: publish.m.registry.display_name: 'my model!' is not valid: a display "
        "name is 1 to 32 ASCII letters, digits, '_' or '-' (Firebase ML's rule), e.g. flowers",
        "edgeops.yaml:13: publish.m.registry.tags: 'a' is listed more than once; remove the "
        "duplicate",
        "edgeops.yaml:14: publish.m.bundle.path: 'model.tfl' is not valid: use a relative path "
        "ending in .tflite, e.g. app/src/main/assets/flowers.tflite",
    ]


def test_empty_publish_entry(write: Write) -> None:
    path = write(MINIMAL + "  other: {}\n")
    assert (
        "edgeops.yaml:12: publish.other: is empty; add at least one of: registry, bundle, "
        "firebase, online, gcs, mlflow" in problems(path)
    )
