"""The YAML layer of the loader: syntax, duplicate keys, aliases, tags, encodings, ``${}``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.config.model import BundleTarget
from edgeops.errors import ConfigError

from .conftest import MINIMAL, Write, problems


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
