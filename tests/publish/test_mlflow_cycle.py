"""The mlflow target through `edgeops plan` / `apply` / `drift` on the trained objects example,
against a real `mlflow server` on 127.0.0.1 (tests/conftest.py), read back with MLflow's own
client: publish, a second apply that creates nothing, drift restored, rollback by revert without
retraining, a rollout's challenger, unpublish, and a server that cannot be reached."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mlflow_server import MlflowServer, free_port, new_name
from publish_helpers import GATE_END, SEED_1, apply, edit, plan
from trained_example import CANDIDATE_MODEL, copy_example, edgeops, ok

pytestmark = pytest.mark.slow

ADDRESS = "publish.objects.mlflow"
BUNDLE_END = "      format: int8\n"


def add_target(root: Path, uri: str, name: str, extra: str = "") -> None:
    edit(
        root,
        BUNDLE_END,
        BUNDLE_END + f"    mlflow:\n      tracking_uri: {uri}\n      name: {name}\n"
        "      tags: {team: mobile}\n" + extra,
    )


def version_sha(root: Path, version: int, model: str = "objects") -> str:
    data = (root / f".edgeops/models/{model}/v{version}/model_int8.tflite").read_bytes()
    return hashlib.sha256(data).hexdigest()


def publish_row(root: Path) -> tuple[Any, ...] | None:
    db = sqlite3.connect(root / ".edgeops/registry.sqlite")
    try:
        row: tuple[Any, ...] | None = db.execute(
            "SELECT version, spec, state, updated_at FROM publish WHERE address = ?", (ADDRESS,)
        ).fetchone()
        return row
    finally:
        db.close()


@pytest.fixture
def client(mlflow_server: MlflowServer) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)


def counts(client: Any, name: str) -> tuple[int, int]:
    """(model versions, runs) of the registered model ``name`` and its experiment."""
    exp = client.get_experiment_by_name(f"edgeops/{name}")
    n_runs = len(client.search_runs([exp.experiment_id])) if exp else 0
    return len(client.search_model_versions(f"name = '{name}'")), n_runs


def champion(client: Any, name: str, alias: str = "champion") -> Any:
    return client.get_model_version_by_alias(name, alias)


@pytest.fixture
def published(trained: Path, tmp_path: Path, mlflow_server: MlflowServer) -> tuple[Path, str]:
    """The trained example (v1) with an mlflow target, applied: a publish, no training."""
    root = copy_example(trained, tmp_path / "ex")
    name = new_name()
    add_target(root, mlflow_server.uri, name)
    r = edgeops(root, "apply", "--auto-approve")  # the plan it shows, then the publish
    out = ok(r)
    assert f"+ {ADDRESS} (create)" in out and "0 to train" in out, out
    assert "View run" not in out and " INFO mlflow" not in r.stderr, r.stderr  # edgeops' output
    return root, name


def test_publish_then_apply_again_creates_nothing(
    published: tuple[Path, str],
    client: Any,
    tmp_path: Path,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, name = published
    mv = champion(client, name)
    assert mv.tags["edgeops.address"] == "model.objects" and mv.tags["edgeops.version"] == "1"
    assert mv.tags["edgeops.sha256"] == version_sha(root, 1)
    run = client.get_run(mv.run_id)
    assert run.data.params["optimize_for"] == "latency"
    assert {"precision", "recall", "au_prc", "log_loss"} <= set(run.data.metrics)
    assert client.get_registered_model(name).tags == {"team": "mobile"}
    # the serving stack's view: the champion's files are edgeops' v1, byte for byte
    import mlflow.artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)  # the registry's too
    got = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{name}@champion", dst_path=str(tmp_path / "dl")
        )
    )
    assert hashlib.sha256((got / "model_int8.tflite").read_bytes()).hexdigest() == version_sha(
        root, 1
    )
    assert (got / "labels.txt").read_text() == (
        root / ".edgeops/models/objects/v1/labels.txt"
    ).read_text()
    assert plan(root).rstrip().endswith("No changes.")
    before = counts(client, name)
    assert "No changes." in apply(root)
    assert counts(client, name) == before == (1, 1)
    (entry,) = [
        v for v in json.loads(ok(edgeops(root, "models", "--json")))["models"]["model.objects"]
    ]
    assert f"mlflow:{name}@champion" in entry["published"]


def test_alias_moved_or_version_deleted_outside_edgeops_is_drift_and_restored(
    published: tuple[Path, str], client: Any
) -> None:
    root, name = published
    mv = champion(client, name)
    other = client.create_model_version(name, source=mv.source, run_id=mv.run_id)
    client.set_registered_model_alias(name, "champion", other.version)
    r = edgeops(root, "drift")
    assert r.returncode == 2, r.stderr
    moved = f"MLflow alias 'champion' of '{name}' was moved to version {other.version} (not 1)"
    assert moved in r.stdout
    out = plan(root)
    assert "Drift (changed outside edgeops" in out and moved in out
    assert f"~ {ADDRESS} (update)" in out
    apply(root)
    assert str(champion(client, name).version) == str(mv.version)

    client.delete_model_version(name, mv.version)
    r = edgeops(root, "drift")
    assert f"MLflow version {mv.version} of '{name}' (champion) was deleted" in r.stdout
    apply(root)
    restored = champion(client, name)
    assert restored.run_id == mv.run_id  # re-registered from the run found by its tags
    assert restored.tags["edgeops.sha256"] == version_sha(root, 1)
    assert plan(root).rstrip().endswith("No changes.")
    assert counts(client, name)[1] == 1


def test_reverting_the_config_moves_the_alias_back_without_training(
    with_v2: Path, tmp_path: Path, mlflow_server: MlflowServer, client: Any
) -> None:
    root = copy_example(with_v2, tmp_path / "ex")
    name = new_name()
    edit(root, GATE_END + SEED_1, GATE_END)  # the config of v1
    add_target(root, mlflow_server.uri, name)
    apply(root)
    first = champion(client, name)
    assert first.tags["edgeops.version"] == "1"
    edit(root, GATE_END, GATE_END + SEED_1)  # v2 again: already trained
    out = apply(root)
    assert "0 to train" in out, out
    assert champion(client, name).tags["edgeops.version"] == "2"
    edit(root, GATE_END + SEED_1, GATE_END)  # git revert
    r = edgeops(root, "apply", "--auto-approve")
    assert r.returncode == 0, r.stderr
    assert "v2 -> v1: v1 matches the config (already trained, no retraining)" in r.stdout
    assert "0 to train" in r.stdout and "training classifier head" not in r.stderr
    back = champion(client, name)
    assert back.version == first.version and back.run_id == first.run_id
    assert counts(client, name) == (2, 2)
    assert plan(root).rstrip().endswith("No changes.")


def test_rollout_candidate_gets_challenger_then_rollback_and_unpublish(
    published: tuple[Path, str], client: Any
) -> None:
    root, name = published
    config = root / "edgeops.yaml"
    config.write_text(config.read_text().replace("\npublish:", "\n" + CANDIDATE_MODEL, 1))
    edit(root, "      tags: {team: mobile}\n", "      tags: {team: mobile}\n"
         "      rollout: {candidate: objects-candidate, percent: 10}\n")  # fmt: skip
    out = apply(root)  # trains the candidate (~25 s), then publishes
    assert "rollout added: 10% of clients -> model.objects-candidate" in out, out
    stable = champion(client, name)
    challenger = champion(client, name, "challenger")
    assert challenger.tags["edgeops.address"] == "model.objects-candidate"
    assert challenger.tags["edgeops.sha256"] == version_sha(root, 1, "objects-candidate")
    assert client.get_registered_model(name).tags["edgeops.challenger_percent"] == "10"

    edit(root, "percent: 10}", "percent: 50}")  # promote: same versions, a new share
    out = apply(root)
    assert "rollout.percent 10 -> 50" in out, out
    assert client.get_registered_model(name).tags["edgeops.challenger_percent"] == "50"
    assert counts(client, name) == (2, 2)

    edit(root, "      rollout: {candidate: objects-candidate, percent: 50}\n", "")  # roll back
    apply(root)
    model = client.get_registered_model(name)
    assert set(model.aliases) == {"champion"} and "edgeops.challenger_percent" not in model.tags
    assert champion(client, name).version == stable.version

    text = config.read_text()
    start = text.index("    mlflow:\n")
    config.write_text(text[:start] + text[text.index("      tags: {team: mobile}\n", start) + 27 :])
    out = apply(root, "--allow-destroy")  # published targets are protected by default
    assert f"{ADDRESS} (unpublish; protected, allowed by --allow-destroy)" in out, out
    model = client.get_registered_model(name)
    assert model.aliases == {} and counts(client, name) == (2, 2)  # every version kept
    assert publish_row(root) is None
    assert plan(root).rstrip().endswith("No changes.")


def test_an_unreachable_server_fails_clearly_and_records_nothing(
    published: tuple[Path, str], mlflow_server: MlflowServer
) -> None:
    root, _name = published
    before = publish_row(root)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    edit(root, f"tracking_uri: {mlflow_server.uri}", f"tracking_uri: {dead}")
    r = edgeops(root, "apply", "--auto-approve")
    assert r.returncode == 1, r.stdout
    assert f"tracking_uri {mlflow_server.uri} -> {dead}" in r.stdout, r.stdout
    assert f"{ADDRESS}: the MLflow tracking server at {dead} failed while publishing" in r.stderr
    assert "the connection was refused" in r.stderr and "Traceback" not in r.stderr
    assert publish_row(root) == before  # nothing half-recorded
    edit(root, f"tracking_uri: {dead}", f"tracking_uri: {mlflow_server.uri}")
    assert plan(root).rstrip().endswith("No changes.")
