"""The mlflow target's operations against a real `mlflow server` on 127.0.0.1, through MLflow's
own client: what a publish logs and registers, that publishing again creates nothing, drift, the
rollout's challenger, unpublish, retention, and servers that fail. Version folders here hold
made-up bytes; tests/publish/test_mlflow_cycle.py runs the same through `edgeops apply` on a
really trained model."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mlflow_server import MlflowServer, free_port, new_name, refusing_server

from edgeops.backends import mlflow_registry as mr
from edgeops.config.model import MlflowTarget, RolloutSpec
from edgeops.errors import EdgeopsError
from edgeops.state import LiveVersion

A = "publish.objects.mlflow"
MB = 1 << 20


@pytest.fixture
def client(mlflow_server: MlflowServer) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)


def release(root: Path, model: str, n: int, threshold: float = 0.4) -> mr.Release:
    """Version ``n`` of ``model``: a folder of files as the local trainer writes them."""
    folder = root / model / f"v{n}"
    folder.mkdir(parents=True)
    seed = f"{model}-{n}".encode()
    (folder / "model_int8.tflite").write_bytes(hashlib.sha256(seed).digest() * 1000)
    (folder / "model_float32.tflite").write_bytes(hashlib.sha256(seed + b"f").digest() * 4000)
    (folder / "labels.txt").write_text("cat\ndog\n")
    (folder / "model_card.json").write_text(json.dumps({"model": model, "version": n}))
    (folder / "report.html").write_text("<html>report</html>")
    version = LiveVersion(
        model=model,
        version=n,
        fingerprint=f"fp-{model}-{n}",
        eval_fingerprint="eval-1",
        status="ready",
        blessed=True,
        threshold=threshold,
        metrics={
            "inputs": {
                "dataset": "ds-fingerprint",
                "multi_label": False,
                "optimize_for": "latency",
                "budget": {"node_hours": 0.05, "early_stopping": True},
                "training": {"seed": 0, "augment": True},
                "trainer_version": "local-7",
            },
            "threshold_rule": "max_f1",
            "summary": {
                "threshold": threshold,
                "precision": 0.9,
                "recall": 0.8,
                "f1": 0.85,
                "au_prc": 0.93,
                "log_loss": 0.31,
                "test_images": 24,
            },
        },
    )
    return mr.Release(version, folder)


def target(server: MlflowServer, name: str, **kw: Any) -> MlflowTarget:
    fields: dict[str, Any] = {"tracking_uri": server.uri, "name": name}
    fields.setdefault("experiment", f"edgeops/{name}")
    return MlflowTarget(**{**fields, **kw})


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def versions(client: Any, name: str) -> list[Any]:
    return sorted(client.search_model_versions(f"name = '{name}'"), key=lambda m: int(m.version))


def runs(client: Any, experiment: str) -> list[Any]:
    exp = client.get_experiment_by_name(experiment)
    return list(client.search_runs([exp.experiment_id])) if exp else []


def test_publish_logs_a_run_registers_it_and_moves_the_alias(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    t = target(mlflow_server, name, tags={"team": "mobile"})
    state = mr.publish(A, t, v1, None, {})

    assert state["tracking_uri"] == mlflow_server.uri and state["alias"] == "champion"
    assert state["sha256"] == sha(v1.folder / "model_int8.tflite")
    mv = client.get_model_version_by_alias(name, "champion")
    assert str(mv.version) == state["model_version"] and mv.run_id == state["run_id"]
    assert mv.tags == {
        "edgeops.address": "model.objects",
        "edgeops.version": "1",
        "edgeops.sha256": state["sha256"],
        "edgeops.threshold": "0.4",
    }
    assert client.get_registered_model(name).tags == {"team": "mobile"}

    run = client.get_run(state["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "objects v1"
    assert run.data.params["optimize_for"] == "latency"
    assert run.data.params["budget.node_hours"] == "0.05"
    assert run.data.params["trainer_version"] == "local-7"
    assert run.data.params["dataset_fingerprint"] == "ds-fingerprint"
    assert run.data.metrics["precision"] == 0.9 and run.data.metrics["au_prc"] == 0.93
    assert run.data.metrics["log_loss"] == 0.31 and run.data.metrics["threshold"] == 0.4
    files = {f.path for f in client.list_artifacts(state["run_id"], "model")}
    assert files == {
        "model/model_int8.tflite",
        "model/model_float32.tflite",
        "model/labels.txt",
        "model/model_card.json",
        "model/report.html",
    }

    # what a serving stack does (README): load the alias, get the very bytes edgeops published
    import mlflow.artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)  # the registry's too
    got = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion",
                                                   dst_path=str(tmp_path / "served")))  # fmt: skip
    assert sha(got / "model_int8.tflite") == state["sha256"]
    assert (got / "labels.txt").read_text() == "cat\ndog\n"


def test_publishing_again_creates_nothing(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    t = target(mlflow_server, name)
    first = mr.publish(A, t, v1, None, {})
    again = mr.publish(A, t, v1, None, first)  # e.g. edgeops restores drift of another field
    lost = mr.publish(A, t, v1, None, {})  # edgeops' own record lost: found by the tags
    assert first == again == lost
    assert len(versions(client, name)) == 1 and len(runs(client, t.experiment)) == 1


def test_a_run_left_unfinished_is_completed_not_duplicated(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    t = target(mlflow_server, name)
    exp = client.create_experiment(t.experiment)
    tags = {
        "edgeops.address": "model.objects",
        "edgeops.version": "1",
        "edgeops.sha256": sha(v1.folder / "model_int8.tflite"),
    }
    broken = client.create_run(exp, tags=tags)  # an apply that died while uploading
    state = mr.publish(A, t, v1, None, {})
    assert state["run_id"] == broken.info.run_id
    assert client.get_run(broken.info.run_id).info.status == "FINISHED"
    assert len(runs(client, t.experiment)) == 1


def test_a_re_evaluated_threshold_updates_the_version_not_a_new_one(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    t = target(mlflow_server, name)
    state = mr.publish(A, t, v1, None, {})
    summary = {**v1.version.metrics["summary"], "threshold": 0.7, "precision": 0.97}
    moved = replace(v1.version, threshold=0.7, metrics={**v1.version.metrics, "summary": summary})
    again = mr.publish(A, t, replace(v1, version=moved), None, state)
    assert again["model_version"] == state["model_version"]
    assert client.get_model_version(name, state["model_version"]).tags["edgeops.threshold"] == "0.7"
    assert client.get_run(state["run_id"]).data.metrics["precision"] == 0.97


def test_drift_lines(mlflow_server: MlflowServer, client: Any, tmp_path: Path) -> None:
    name = new_name()
    v1, v2 = release(tmp_path, "objects", 1), release(tmp_path, "objects", 2)
    t = target(mlflow_server, name, tags={"team": "mobile"})
    s2 = mr.publish(A, t, v2, None, mr.publish(A, t, v1, None, {}))
    assert list(mr.drift(A, s2)) == []

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_tag(name, "team", "web")
    assert list(mr.drift(A, s2)) == [
        f"MLflow alias 'champion' of '{name}' was moved to version 1 (not 2)",
        f"MLflow tag team of '{name}' changed to 'web'",
    ]
    client.delete_registered_model_alias(name, "champion")
    client.delete_registered_model_tag(name, "team")
    assert list(mr.drift(A, s2)) == [
        f"MLflow alias 'champion' of '{name}' was removed",
        f"MLflow tag team of '{name}' was removed",
    ]
    restored = mr.publish(A, t, v2, None, s2)  # what apply does with drift
    assert restored == s2 and list(mr.drift(A, restored)) == []

    client.delete_model_version(name, "2")
    assert list(mr.drift(A, s2)) == [f"MLflow version 2 of '{name}' (champion) was deleted"]
    again = mr.publish(A, t, v2, None, s2)  # re-registered from the same run
    assert again["run_id"] == s2["run_id"] and again["model_version"] == "3"
    assert list(mr.drift(A, again)) == []

    client.delete_registered_model(name)
    assert list(mr.drift(A, again)) == [f"MLflow registered model '{name}' was deleted"]


def test_rollout_moves_challenger_and_rolling_back_removes_it(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1, c1 = release(tmp_path, "objects", 1), release(tmp_path, "objects-candidate", 1)
    plain = target(mlflow_server, name)
    rolled = replace(plain, rollout=RolloutSpec(candidate="objects-candidate", percent=10.0))
    s1 = mr.publish(A, plain, v1, None, {})
    s2 = mr.publish(A, rolled, v1, c1, s1)
    assert s2["model_version"] == s1["model_version"]
    assert s2["rollout"]["candidate"] == "objects-candidate" and s2["rollout"]["version"] == 1
    challenger = client.get_model_version_by_alias(name, "challenger")
    assert str(challenger.version) == s2["rollout"]["model_version"]
    assert challenger.tags["edgeops.address"] == "model.objects-candidate"
    model = client.get_registered_model(name)
    assert model.tags["edgeops.challenger_percent"] == "10"
    assert list(mr.drift(A, s2)) == []

    client.delete_registered_model_alias(name, "challenger")
    assert list(mr.drift(A, s2)) == [f"MLflow alias 'challenger' of '{name}' was removed"]

    s3 = mr.publish(A, plain, v1, None, s2)  # rollback: the rollout removed from the config
    model = client.get_registered_model(name)
    assert "challenger" not in model.aliases and "edgeops.challenger_percent" not in model.tags
    assert model.aliases["champion"] == s1["model_version"] and "rollout" not in s3


def test_a_renamed_alias_leaves_no_stale_one_but_keeps_someone_elses(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1, v2 = release(tmp_path, "objects", 1), release(tmp_path, "objects", 2)
    t = target(mlflow_server, name)
    s1 = mr.publish(A, t, v1, None, {})
    s2 = mr.publish(A, replace(t, alias="prod"), v1, None, s1)
    assert set(client.get_registered_model(name).aliases) == {"prod"}
    mr.publish(A, t, v2, None, {})  # champion -> v2 (as if set by hand)
    mr.publish(A, replace(t, alias="staging"), v1, None, s2 | {"alias": "champion"})
    aliases = client.get_registered_model(name).aliases
    assert aliases["champion"] == "2"  # not where edgeops put it: someone else's, kept


def test_a_tag_removed_from_the_config_is_removed_unless_someone_changed_it(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    t = target(mlflow_server, name, tags={"team": "mobile", "tier": "gold"})
    state = mr.publish(A, t, v1, None, {})
    client.set_registered_model_tag(name, "tier", "silver")  # someone else's now
    mr.publish(A, replace(t, tags={}), v1, None, state)
    assert client.get_registered_model(name).tags == {"tier": "silver"}


def test_moving_away_from_a_server_that_is_gone_warns_and_publishes(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1 = release(tmp_path, "objects", 1)
    gone = f"http://127.0.0.1:{free_port()}"
    before = {"tracking_uri": gone, "name": name, "alias": "champion", "model_version": "1"}
    warnings: list[str] = []
    state = mr.publish(A, target(mlflow_server, name), v1, None, before, warn=warnings.append)
    assert state["tracking_uri"] == mlflow_server.uri
    assert warnings == [
        f"{A}: now published at {mlflow_server.uri}; champion of '{name}' at {gone} could not "
        "be removed (that server did not answer); remove them there if it still runs"
    ]


def test_unpublish_removes_the_aliases_and_keeps_every_version(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    v1, c1 = release(tmp_path, "objects", 1), release(tmp_path, "objects-candidate", 1)
    t = target(mlflow_server, name, tags={"team": "mobile"})
    rolled = replace(t, rollout=RolloutSpec(candidate="objects-candidate", percent=50.0))
    state = mr.publish(A, rolled, v1, c1, {})
    mr.unpublish(A, state)
    model = client.get_registered_model(name)
    assert model.aliases == {} and model.tags == {"team": "mobile"}
    assert len(versions(client, name)) == 2 and len(runs(client, t.experiment)) == 2
    mr.unpublish(A, state)  # again: nothing left to do, no error
    client.delete_registered_model(name)
    mr.unpublish(A, state)  # the registered model is gone: nothing of edgeops' is left


def test_retention_deletes_the_model_versions_of_deleted_versions_only(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    t = target(mlflow_server, name)
    state: dict[str, Any] = {}
    for n in (1, 2, 3):
        state = mr.publish(A, t, release(tmp_path, "objects", n), None, state)
    mr.delete_versions("model.objects", [1, 2], [state])
    left = versions(client, name)
    assert [m.tags["edgeops.version"] for m in left] == ["3"]
    assert len(runs(client, t.experiment)) == 3  # the runs stay: the training record


def test_an_unreachable_server_is_a_clear_error(
    tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    t = MlflowTarget(tracking_uri=uri, name="objects", experiment="edgeops/objects")
    started = time.monotonic()
    with pytest.raises(EdgeopsError) as info:
        mr.publish(A, t, release(tmp_path, "objects", 1), None, {})
    message = str(info.value)
    assert message.startswith(f"{A}: the MLflow tracking server at {uri} failed while publishing")
    assert "the connection was refused" in message and "edgeops recorded nothing" in message
    assert time.monotonic() - started < 30
    state = {"tracking_uri": uri, "name": "objects", "alias": "champion", "model_version": "1"}
    with pytest.raises(EdgeopsError, match="failed while checking it for drift"):
        list(mr.drift(A, state))


def test_a_refusing_server_is_a_clear_error(tmp_path: Path, mlflow_server: MlflowServer) -> None:
    with refusing_server() as uri:
        t = MlflowTarget(tracking_uri=uri, name="objects", experiment="edgeops/objects")
        with pytest.raises(EdgeopsError) as info:
            mr.publish(A, t, release(tmp_path, "objects", 1), None, {})
    message = str(info.value)
    assert f"the MLflow tracking server at {uri} failed while publishing to it" in message
    assert "403" in message or "no access for you" in message
    assert "Traceback" not in message


def test_an_experiment_deleted_outside_edgeops_is_named(
    mlflow_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    name = new_name()
    t = target(mlflow_server, name)
    client.delete_experiment(client.create_experiment(t.experiment))
    with pytest.raises(EdgeopsError, match=f"the MLflow experiment 'edgeops/{name}' was deleted"):
        mr.publish(A, t, release(tmp_path, "objects", 1), None, {})


def test_without_mlflow_installed_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("mlflow", "mlflow.tracking", "mlflow.exceptions"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    t = MlflowTarget(tracking_uri="http://127.0.0.1:5000", name="objects", experiment="e")
    with pytest.raises(EdgeopsError, match=r"pip install 'edgeops\[mlflow\]'"):
        mr.publish(A, t, release(tmp_path, "objects", 1), None, {})
    with pytest.raises(EdgeopsError, match=r"pip install 'edgeops\[mlflow\]'"):
        list(mr.drift(A, {"tracking_uri": t.tracking_uri, "name": "objects"}))
