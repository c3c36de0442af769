"""The Firebase ML successor path: a staged rollout on `gcs` targets (a Remote Config parameter
naming the stable and candidate files and their sha256, a percent condition, If-Match writes),
and the README's migration from `firebase` targets to `gcs` + Remote Config, applied through the
real CLI against the fakes (Vertex AI, Cloud Storage, Firebase ML, Remote Config with its
percent conditions parsed and evaluated)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fakes.remote_config import FakeRemoteConfig
from fakes.vertex import FakeGoogle

from edgeops import cli

ZIP = Path(__file__).resolve().parents[2] / "examples" / "objects" / "data" / "objects.zip"
PROJECT = "edgeops-demo"
INSTANCES = [f"install-{i}" for i in range(4000)]

HEAD = """
version: 1
backend:
  google: {project: edgeops-demo, location: us-central1, bucket: BUCKET, prefix: edgeops}
datasets:
  objects:
    source: {zip: ZIP}
models:
  objects:
    dataset: objects
    budget: {node_hours: 1}
  objects_v2:
    dataset: objects
    optimize_for: balanced
    budget: {node_hours: 1}
publish:
"""
GCS = """
  objects:
    gcs:
      path: gs://BUCKET/app/objects.tflite
      ROLLOUT
  objects_v2:
    gcs: {path: gs://BUCKET/app/objects_v2.tflite}
"""


def write(google: FakeGoogle, root: Path, publish: str) -> Path:
    bucket = google.bucket  # type: ignore[attr-defined]
    text = (HEAD + publish).replace("BUCKET", bucket).replace("ZIP", str(ZIP))
    path = root / "edgeops.yaml"
    path.write_text(text)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def sha_of(google: FakeGoogle, uri: str) -> str:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    data = google.storage_client.bucket(bucket).blob(name).download_as_bytes()
    return hashlib.sha256(data).hexdigest()


def on_candidate(fake: FakeRemoteConfig, parameter: str, candidate: str) -> set[str]:
    return {i for i in INSTANCES if fake.value_for(PROJECT, parameter, i) == candidate}


def test_a_gcs_rollout_promotes_and_rolls_back(
    google: FakeGoogle,
    remote_config: FakeRemoteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = google.bucket  # type: ignore[attr-defined]
    config = write(
        google, tmp_path, GCS.replace("ROLLOUT", "rollout: {candidate: objects_v2, percent: 10}")
    )
    code, out = run(capsys, "plan", "-f", str(config))
    assert code == 0, out
    assert "rollout added: 10% of clients -> model.objects_v2" in out
    assert (
        "publish.objects.gcs: Remote Config parameter edgeops_gcs_objects names the file "
        f"(JSON: path, sha256) gs://{bucket}/app/objects_v2.tflite for app instances where "
        "percent('objects') <= 10" in " ".join(out.split())
    )
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out

    template = remote_config.templates[PROJECT]
    parameter = template["parameters"]["edgeops_gcs_objects"]
    assert parameter["valueType"] == "JSON"
    stable = json.loads(parameter["defaultValue"]["value"])
    candidate_text = parameter["conditionalValues"]["edgeops_gcs_rollout_objects"]["value"]
    candidate = json.loads(candidate_text)
    assert stable["path"] == f"gs://{bucket}/app/objects.tflite"
    assert candidate["path"] == f"gs://{bucket}/app/objects_v2.tflite"
    # the sha256 each names is the file's at that path: an app can check what it downloaded
    assert stable["sha256"] == sha_of(google, stable["path"])
    assert candidate["sha256"] == sha_of(google, candidate["path"])
    assert (stable["model"], candidate["model"]) == ("objects", "objects_v2")
    assert template["conditions"] == [
        {
            "name": "edgeops_gcs_rollout_objects",
            "expression": "percent('objects') <= 10",
            "tagColor": "BLUE",
        }
    ]
    at10 = on_candidate(remote_config, "edgeops_gcs_objects", candidate_text)
    assert 0.08 < len(at10) / len(INSTANCES) < 0.12
    assert set(remote_config.authorizations) == {"Bearer fake-token"}  # AuthorizedSession

    code, out = run(capsys, "plan", "-f", str(config))
    assert code == 0 and "No changes." in out, out

    # promote: the instances on the candidate at 10% stay there at 50%
    config = write(
        google, tmp_path, GCS.replace("ROLLOUT", "rollout: {candidate: objects_v2, percent: 50}")
    )
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    assert "rollout.percent 10 -> 50" in out
    at50 = on_candidate(remote_config, "edgeops_gcs_objects", candidate_text)
    assert at10 < at50 and 0.46 < len(at50) / len(INSTANCES) < 0.54

    # roll back: every instance on the stable file; the condition goes, the parameter stays
    config = write(google, tmp_path, GCS.replace("ROLLOUT", ""))
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    template = remote_config.templates[PROJECT]
    assert template["conditions"] == []
    assert not on_candidate(remote_config, "edgeops_gcs_objects", candidate_text)
    assert (
        json.loads(template["parameters"]["edgeops_gcs_objects"]["defaultValue"]["value"]) == stable
    )
    code, out = run(capsys, "plan", "-f", str(config))
    assert code == 0 and "No changes." in out, out


FIREBASE = """
  objects:
    firebase:
      display_name: objects
      rollout: {candidate: objects_v2, percent: 20}
    GCS
  objects_v2:
    firebase: {display_name: objects_v2}
    GCS2
"""


def test_the_readme_migration_from_firebase_to_gcs(
    google: FakeGoogle,
    remote_config: FakeRemoteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = google.bucket  # type: ignore[attr-defined]
    before = FIREBASE.replace("    GCS2\n", "").replace("    GCS\n", "")
    code, out = run(capsys, "apply", "-f", str(write(google, tmp_path, before)), "--auto-approve")
    assert code == 0, out

    # step 1, one reviewed plan: each firebase target gets a gcs target beside it, with the same
    # rollout; the plan shows both, and the parameter the new targets write
    rollout = "rollout: {candidate: objects_v2, percent: 20}"
    gcs = f"gcs:\n      path: gs://{bucket}/app/objects.tflite\n      {rollout}"
    both = FIREBASE.replace("GCS2", f"gcs: {{path: gs://{bucket}/app/objects_v2.tflite}}").replace(
        "GCS", gcs
    )
    config = write(google, tmp_path, both)
    code, out = run(capsys, "plan", "-f", str(config), "--detailed-exitcode")
    assert code == 2, out
    flat = " ".join(out.split())
    assert "+ publish.objects.gcs" in out and "+ publish.objects_v2.gcs" in out
    assert "Remote Config parameter edgeops_gcs_objects" in flat
    assert "Plan: 2 to create, 0 to update" in out  # the firebase targets stay as they are
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve")
    assert code == 0, out
    params = remote_config.templates[PROJECT]["parameters"]
    assert {"edgeops_model_objects", "edgeops_gcs_objects"} <= set(params)
    # one seed: an app instance is on the same side whichever parameter its app version reads
    old_side = on_candidate(remote_config, "edgeops_model_objects", "objects_v2")
    new_value = params["edgeops_gcs_objects"]["conditionalValues"]["edgeops_gcs_rollout_objects"]
    assert old_side == on_candidate(remote_config, "edgeops_gcs_objects", new_value["value"])

    # step 2, once no app version reads Firebase ML: the firebase targets go (protected, so
    # with --allow-destroy); their parameter and condition go with them, the gcs ones stay
    after = both.replace(
        f"    firebase:\n      display_name: objects\n      {rollout}\n", ""
    ).replace("    firebase: {display_name: objects_v2}\n", "")
    config = write(google, tmp_path, after)
    code, out = run(capsys, "apply", "-f", str(config), "--auto-approve", "--allow-destroy")
    assert code == 0, out
    template = remote_config.templates[PROJECT]
    assert "edgeops_model_objects" not in template["parameters"]
    assert [c["name"] for c in template["conditions"]] == ["edgeops_gcs_rollout_objects"]
    assert google.firebase == {}
    code, out = run(capsys, "plan", "-f", str(config))
    assert code == 0 and "No changes." in out, out
