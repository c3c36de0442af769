"""A killed apply resumes polling; two applies contend for the bucket lock; drift in Firebase;
the Firebase deprecation warning; gates from Vertex's evaluation; missing credentials."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli
from edgeops.backends.google import vertex
from edgeops.backends.google.backend import GoogleBackend
from edgeops.backends.google.bucket import StateBucket
from edgeops.backends.google.lock import bucket_lease
from edgeops.config.loader import load_config
from edgeops.errors import EdgeopsError, LockError
from edgeops.progress import NullReporter
from edgeops.workflow import open_session


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _state(google: FakeGoogle) -> StateBucket:
    return StateBucket(google.storage_client, google.bucket, "edgeops")  # type: ignore[attr-defined]


def test_interrupted_apply_resumes_polling_without_a_second_pipeline(
    google: FakeGoogle,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    google.hold = True

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(vertex.time, "sleep", interrupt)
        code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 130, out
    assert len(google.pipelines) == 1
    pending = _state(google).read_json("state", "models", "objects.json").data["pending"]
    assert pending["pipeline"] in google.pipelines  # recorded before polling
    assert _state(google).bucket.get_blob("edgeops/lock.json") is None  # released on Ctrl-C

    google.hold = False
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out
    assert "resuming training pipeline" in out
    assert len(google.pipelines) == 1
    assert (
        sum(r.startswith("POST") and r.endswith("/trainingPipelines") for r in google.requests) == 1
    )
    code, out = run(capsys, "plan", "-f", str(repo))
    assert "No changes." in out, out


def test_a_pipeline_submitted_but_not_recorded_is_found_by_its_labels(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = open_session(repo, NullReporter())
    assert session.desired is not None
    backend = session.backend
    assert isinstance(backend, GoogleBackend)
    ds = session.desired.datasets[0]
    backend.import_dataset(ds, NullReporter())
    model = session.desired.models[0]
    record = _state(google).read_json("state", "datasets", "objects.json").data
    vertex.submit_training(  # a kill right after this call: nothing in the bucket yet
        backend.clients,
        address=model.address,
        fingerprint=model.fingerprint,
        dataset_name=record["vertex_dataset"],
        multi_label=False,
        optimize_for="latency",
        node_hours=2,
        early_stopping=True,
        version=1,
    )
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out
    assert "found training pipeline" in out
    assert len(google.pipelines) == 1


def test_second_apply_fails_naming_the_lock_holder(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with bucket_lease(_state(google), "apply (other)"):
        code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
        assert code == 1
        assert "another apply holds the lock" in out
        assert f"pid {os.getpid()}" in out and socket.gethostname() in out
        with pytest.raises(LockError), bucket_lease(_state(google), "apply"):
            pass
    assert google.pipelines == {}  # the refused apply did nothing
    code, out = run(capsys, "unlock", "-f", str(repo))
    assert "Not locked." in out


def test_stale_lock_is_taken_over_and_unlock_removes_a_live_one(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    st = _state(google)
    dead = {
        "host": socket.gethostname(),
        "pid": 2**22 + 7,
        "started": "2026-01-01T00:00:00+00:00",
        "command": "apply",
    }
    st.bucket.blob("edgeops/lock.json").upload_from_string(json.dumps(dead), if_generation_match=0)
    with bucket_lease(st, "apply"):
        holder = json.loads(st.bucket.blob("edgeops/lock.json").download_as_bytes())
        assert holder["pid"] == os.getpid()
    assert st.bucket.get_blob("edgeops/lock.json") is None
    other = {
        "host": "ci-runner-7",
        "pid": 1,
        "started": "2999-01-01T00:00:00+00:00",
        "command": "apply",
    }
    st.bucket.blob("edgeops/lock.json").upload_from_string(json.dumps(other))
    code, out = run(capsys, "unlock", "-f", str(repo))
    assert code == 0 and "ci-runner-7" in out
    assert st.bucket.get_blob("edgeops/lock.json") is None


def test_firebase_drift_shows_in_the_plan_and_apply_restores_it(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "-f", str(repo), "--auto-approve")[0] == 0
    (model,) = google.firebase.values()
    assert model["tags"] == ["example"] and model["state"]["published"] is True
    assert model["displayName"] == "objects"
    model["tags"] = ["edited-by-hand"]
    code, out = run(capsys, "plan", "-f", str(repo))
    assert "Firebase model tags changed to ['edited-by-hand']" in out, out
    assert "publish.objects.firebase" in out
    assert run(capsys, "apply", "-f", str(repo), "--auto-approve")[0] == 0
    assert model["tags"] == ["example"]
    assert "No changes." in run(capsys, "plan", "-f", str(repo))[1]


def test_plan_has_the_cost_ceiling_and_warns_about_firebase(google: FakeGoogle, repo: Path) -> None:
    session = open_session(repo, NullReporter())
    assert session.desired is not None
    (model,) = session.desired.models
    assert model.cost_ceiling == "$36.00"  # 2 node hours x $18.00
    assert model.inputs["trainer_version"] == "vertex-automl-edge-1"
    assert model.estimate_seconds == 7200
    plan = session.plan()
    warnings = session.backend.plan_warnings(plan)  # type: ignore[attr-defined]
    assert warnings == [
        "Firebase ML model management is deprecated and shuts down on 2027-06-15; "
        "consider the gcs target + Remote Config"
    ]


def test_a_weak_model_misses_its_gate_and_nothing_is_published(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    google.skill = 0.3
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 1, out
    assert "missed its gate" in out
    assert google.firebase == {}
    assert not (repo.parent / "app/src/main/assets/objects.tflite").exists()


def test_published_files_match_the_exported_model(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "-f", str(repo), "--auto-approve")[0] == 0
    bundle = (repo.parent / "app/src/main/assets/objects.tflite").read_bytes()
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    assert bucket.blob("releases/objects.tflite").download_as_bytes() == bundle
    assert bundle.startswith(b"TFL3")
    labels = bucket.blob("releases/objects.labels.txt").download_as_text().split()
    card = json.loads(bucket.blob("releases/objects.json").download_as_bytes())
    assert card["labels"] == labels and card["size"] == len(bundle)
    (pipeline,) = google.pipelines.values()
    inputs = pipeline["trainingTaskInputs"]
    assert inputs["modelType"] == "MOBILE_TF_LOW_LATENCY_1"
    assert inputs["budgetMilliNodeHours"] in (2000, "2000")
    assert inputs["disableEarlyStopping"] is False
    split = pipeline["inputDataConfig"]["filterSplit"]
    assert split["testFilter"] == "labels.aiplatform.googleapis.com/ml_use=test"
    code, out = run(capsys, "show", "-f", str(repo))
    assert code == 0, out


def test_missing_credentials_is_one_clear_screen(
    google: FakeGoogle, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    backend = GoogleBackend(load_config(repo))
    with pytest.raises(EdgeopsError) as err:
        backend.read()
    msg = str(err.value)
    assert "gcloud auth application-default login" in msg
    assert "GOOGLE_APPLICATION_CREDENTIALS" in msg
    assert len(msg.splitlines()) < 20
