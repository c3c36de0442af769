from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import (
    BundleTarget,
    Config,
    GcsTarget,
    RegistryTarget,
    ThresholdRule,
)
from edgeops.errors import ConfigError

from .conftest import Write, problems

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/*/edgeops.yaml"))

MINIMAL = """
version: 1
datasets:
  flowers:
    source: {zip: data/flowers.zip}
models:
  flowers:
    dataset: flowers
publish:
  flowers:
    registry: {display_name: flowers}
    bundle: {path: app/flowers.tflite}
"""

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
    training: {seed: 7, augment: false, label_smoothing: 0, fine_tune: never}
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


# --- YAML-level errors ---------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column(write: Write) -> None:
    path = write("version: 1\ndatasets:\n  a:\n    source: {zip: x.zip\n")
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:5:1: YAML syntax error: expected ',' or '}'")
    assert "started at line 4:13" in line
    assert line.endswith("; fix the indentation/quoting near here")


def test_bad_indentation(write: Write) -> None:
    path = write("version: 1\ndatasets:\n  a:\n    source: {zip: x.zip}\n   models: {}\n")
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:5:")
    assert "YAML syntax error" in line


def test_duplicate_keys_name_both_lines(write: Write) -> None:
    path = write(
        """
        version: 1
        datasets:
          a:
            source: {zip: x.zip}
          a:
            source: {zip: y.zip}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:5: datasets.a: duplicate key 'a' (first written on line 3); "
        "remove one of them"
    ]


def test_billion_laughs_is_refused_fast(write: Write) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = write("\n".join(lines) + "\n")
    start = time.perf_counter()
    (line,) = problems(path)
    assert time.perf_counter() - start < 1.0
    assert line.startswith("edgeops.yaml:2:8: YAML aliases (*name) are not allowed")


def test_single_alias_is_refused(write: Write) -> None:
    path = write("version: 1\nx: &v 1\ny: *v\n")
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:3:4: YAML aliases")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(write: Write, text: str) -> None:
    assert problems(write(text)) == [
        "edgeops.yaml:1: the file is empty; start it with `version: 1`"
    ]


def test_top_level_list(write: Write) -> None:
    (line,) = problems(write("- version: 1\n"))
    assert line.startswith("edgeops.yaml:1: (top level): the top level must be a mapping")


def test_non_utf8_file(write: Write) -> None:
    path = write("")
    path.write_bytes(b"version: 1\n# caf\xe9\n")
    assert problems(path) == [
        "edgeops.yaml:2:6: the file is not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]


def test_utf8_bom_is_accepted(write: Write) -> None:
    path = write("")
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).version == 1


def test_multiple_documents(write: Write) -> None:
    (line,) = problems(write("version: 1\n---\nversion: 1\n"))
    assert line.startswith("edgeops.yaml:2:1: only one YAML document is allowed")


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^edgeops.yaml: file not found; "):
        load_config(Path("edgeops.yaml"))


def test_huge_file_is_refused(write: Write) -> None:
    path = write("version: 1\n" + "# padding\n" * 200_000)
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml: the file is larger than 1024 KiB")


def test_custom_tags_and_nan_are_refused(write: Write) -> None:
    path = write(
        """
        version: 1
        backend:
          local: {path: !!python/object foo}
        models:
          m:
            dataset: d
            budget: {node_hours: .nan}
        """
    )
    assert problems(path) == [
        "edgeops.yaml:3: backend.local.path: YAML tag !!python/object is not supported; "
        "remove the tag (quote the value if it should be text)",
        "edgeops.yaml:7: models.m.budget.node_hours: .nan is not a finite number; use a number",
    ]


# --- schema errors ---------------------------------------------------------------------------


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
        "here: registry, bundle, firebase, online, gcs"
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
        "firebase, online, gcs" in problems(path)
    )


def test_problems_are_capped(write: Write) -> None:
    body = "".join(f"  d{i}:\n    sorce: {{zip: x.zip}}\n" for i in range(30))
    lines = problems(write("version: 1\ndatasets:\n" + body))
    assert len(lines) == 21
    assert lines[-1] == "... and 40 more problems"  # 30 unknown keys + 30 missing sources


# --- ${VAR} interpolation ------------------------------------------------------------------------

GOOGLE = """
version: 1
backend:
  google:
    project: ${PROJECT}
    bucket: ${BUCKET:-default-bucket}
    location: ${REGION:-us-central1}
"""


def test_env_set(write: Write) -> None:
    config = load_config(write(GOOGLE), env={"PROJECT": "my-project", "BUCKET": "b-1"})
    assert config.backend.google is not None
    assert config.backend.google.project == "my-project"
    assert config.backend.google.bucket == "b-1"


def test_env_default_when_unset_or_empty(write: Write) -> None:
    config = load_config(write(GOOGLE), env={"PROJECT": "my-project", "REGION": ""})
    assert config.backend.google is not None
    assert config.backend.google.bucket == "default-bucket"
    assert config.backend.google.location == "us-central1"


def test_env_unset_is_an_error(write: Write) -> None:
    assert problems(write(GOOGLE), env={}) == [
        "edgeops.yaml:4: backend.google.project: environment variable PROJECT is not set; set "
        "it (export PROJECT=...) or give a default: ${PROJECT:-value}"
    ]


def test_env_defaults_to_os_environ(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECT", "from-environ")
    config = load_config(write(GOOGLE))
    assert config.backend.google is not None
    assert config.backend.google.project == "from-environ"


def test_env_escape_and_malformed(write: Write) -> None:
    path = write(
        """
        version: 1
        publish:
          m:
            gcs: {path: "gs://bucket/$${X}/${DIR}/m.tflite"}
            bundle: {path: "${1BAD}.tflite"}
            online: {name: "${OPEN"}
        """
    )
    lines = problems(path, env={"DIR": "d"})
    assert lines == [
        "edgeops.yaml:5: publish.m.bundle.path: '${1BAD}' is not a valid variable reference; "
        "use ${NAME} or ${NAME:-default} (write $${ for a literal ${)",
        "edgeops.yaml:6: publish.m.online.name: unterminated ${ in this value; close it with } "
        "or write $${",
    ]


def test_env_escape_gives_literal(write: Write) -> None:
    text = MINIMAL.replace("app/flowers.tflite", '"app/$${X}${DIR}.tflite"')
    config = load_config(write(text), env={"DIR": "x"})
    target = config.publish[0].targets[1][1]
    assert isinstance(target, BundleTarget)
    assert target.path.name == "${X}x.tflite"


def test_env_values_stay_strings(write: Write) -> None:
    text = MINIMAL.replace("dataset: flowers", "dataset: flowers\n    keep: ${KEEP}")
    assert problems(write(text), env={"KEEP": "3"}) == [
        "edgeops.yaml:8: models.flowers.keep: expected a whole number, got text '3'; ${...} "
        "interpolation always gives text, so write this value directly in the file"
    ]


def test_deeply_nested_yaml_is_refused(write: Write) -> None:
    path = write("version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(path) == [
        "edgeops.yaml: YAML nesting is too deep; an edgeops config is a few levels deep"
    ]
    path = write("version: 1\nx: " + "[" * 40 + "]" * 40 + "\n")
    (line,) = problems(path)
    assert line.startswith("edgeops.yaml:2: x[0][0]") and "nested too deeply" in line
