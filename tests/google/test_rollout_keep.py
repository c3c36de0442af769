"""A staged rollout on the google backend, applied through the real CLI against the fakes
(Vertex AI, Firebase ML, Remote Config): the candidate's version the rollout serves is never
deleted by ``keep:``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes.remote_config import FakeRemoteConfig
from fakes.vertex import FakeGoogle

from edgeops import cli
from edgeops.backends.google.bucket import StateBucket

ZIP = Path(__file__).resolve().parents[2] / "examples" / "objects" / "data" / "objects.zip"

# objects rolls out objects2 (published on its own as objects_next) to 10% of the apps
CONFIG = """
version: 1
backend:
  google: {project: edgeops-demo, location: us-central1, bucket: BUCKET, prefix: edgeops}
datasets:
  objects:
    source: {zip: ZIP}
    split: {train: 80, validation: 10, test: 10}
models:
  objects:
    dataset: objects
    optimize_for: latency
    budget: {node_hours: NODE_HOURS}
    gate: {min_precision: 0.6}
  objects2:
    dataset: objects
    optimize_for: latency
    budget: {node_hours: NODE_HOURS}
    KEEP
publish:
  objects:
    firebase:
      display_name: objects
      rollout: {candidate: objects2, percent: 10}
  objects2:
    firebase: {display_name: objects_next}
"""


def write_config(google: FakeGoogle, root: Path, node_hours: int, keep: str) -> Path:
    text = (
        CONFIG.replace("BUCKET", google.bucket)  # type: ignore[attr-defined]
        .replace("ZIP", str(ZIP))
        .replace("NODE_HOURS", str(node_hours))
        .replace("KEEP", keep)
    )
    path = root / "edgeops.yaml"
    path.write_text(text)
    return path


def apply(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str]:
    code = cli.main(["apply", "-f", str(config), "--auto-approve"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_rollout_candidates_version_survives_keep(
    google: FakeGoogle,
    remote_config: FakeRemoteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = StateBucket(google.storage_client, google.bucket, "edgeops")  # type: ignore[attr-defined]

    def versions() -> list[int]:
        data = state.read_json("state", "models", "objects2.json").data
        return [v["version"] for v in data["versions"]]

    def rollout() -> tuple[str, int]:
        data = state.read_json("state", "publish", "publish.objects.firebase.json").data
        return data["state"]["rollout"]["candidate"], data["state"]["rollout"]["version"]

    # v1 of objects2, rolled out under objects and published as objects_next
    code, out = apply(capsys, write_config(google, tmp_path, 1, ""))
    assert code == 0, out
    assert rollout() == ("objects2", 1)

    # both retrain; objects' v2 misses its gate, so its target (and the rollout of objects2 v1
    # it carries) stays, while objects_next moves to objects2 v2. `keep: 1` planned to delete
    # objects2 v1, which only the rollout still serves: the apply must keep it.
    finish = google._finish

    def weak_objects(p: dict[str, Any]) -> None:
        weak = p["modelToUpload"]["displayName"].startswith("edgeops-objects-v")
        google.skill = 0.3 if weak else 0.95
        finish(p)

    monkeypatch.setattr(google, "_finish", weak_objects)
    code, out = apply(capsys, write_config(google, tmp_path, 2, "keep: 1"))
    assert code == 1, out
    assert "model.objects v2 missed its gate" in out
    assert "publish.objects2.firebase: now serves v2" in out
    assert "model.objects2: kept v1, a publish target still serves it" in out
    assert rollout() == ("objects2", 1)
    assert versions() == [1, 2]
    assert state.list_uris(state.uri("models", "objects2", "v1") + "/")  # its files too
    assert google.deleted == []  # and its Vertex AI model

    # the next plan knows the rollout stays (objects' v2 still misses its gate): it plans no
    # delete of objects2 v1 again
    code = cli.main(["plan", "-f", str(tmp_path / "edgeops.yaml"), "--format", "json"])
    planned = json.loads(capsys.readouterr().out)
    assert code == 0
    assert not [c for c in planned["changes"] if c["action"] == "delete"], planned["changes"]
