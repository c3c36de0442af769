"""`format` of bundle/gcs targets on the google backend: Vertex AI exports one TFLite file, which
both values publish; float32 validates (portable configs) and every plan warns it has no effect."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli
from edgeops.config.loader import load_config


def _config(tmp_path: Path, bundle_format: str, gcs_format: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    text = f"""version: 1
backend:
  google: {{project: edgeops-demo, location: us-central1, bucket: b-edgeops}}
datasets:
  d:
    source: {{folder: data}}
models:
  m:
    dataset: d
    budget: {{node_hours: 1}}
publish:
  m:
    bundle:
      path: app/m.tflite
      format: {bundle_format}
    gcs:
      path: gs://b-edgeops/releases/m.tflite
      format: {gcs_format}
"""
    (tmp_path / "edgeops.yaml").write_text(text)
    return tmp_path / "edgeops.yaml"


def test_float32_validates_and_every_plan_says_it_has_no_effect(tmp_path: Path) -> None:
    from edgeops.backends.google.backend import GoogleBackend

    config = load_config(_config(tmp_path, "float32", "int8"))
    backend = GoogleBackend(config)
    plan = SimpleNamespace(changes=())  # a plan with no changes still warns
    assert backend.plan_warnings(plan) == [
        "publish.m.bundle: format float32 has no effect on the google backend: Vertex AI "
        "exports one TFLite model (export format tflite) and that file is published as it is; "
        "set format: int8 (the default) to say so"
    ]
    assert GoogleBackend(load_config(_config(tmp_path, "int8", "int8"))).plan_warnings(plan) == []


def test_the_card_names_the_vertex_export(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["apply", "-f", str(repo), "--auto-approve"]) == 0, capsys.readouterr()
    card = json.loads((repo.parent / "app/src/main/assets/objects.json").read_text())
    assert card["format"] == "int8" and card["vertex_export_format"] == "tflite"
