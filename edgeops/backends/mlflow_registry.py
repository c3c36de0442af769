"""The mlflow target: a registered model in an MLflow Model Registry, the registry platform teams
already run (a tracking server; MLflow's client library, imported only when a target is used).

Publishing an edgeops model version logs one MLflow run for it in the target's experiment
(params: what the version was trained from; metrics: its evaluation at the threshold; artifacts
under ``model/``: both .tflite files, labels, model card and report), registers the run's
``model/`` folder as a version of the registered model, and moves the target's alias to it; a
rollout candidate's version gets the ``challenger`` alias. Runs and model versions carry the
tags ``edgeops.address``, ``edgeops.version`` and ``edgeops.sha256``: a later publish of the same
version finds them by these tags instead of creating new ones (an interrupted run is finished).

What a target records is where it wrote (tracking URI, registered model, alias) and the MLflow
model version of each alias, so drift (an alias moved or removed, a version deleted, a tag
changed) is read from the server alone. Every MLflow failure is an :class:`EdgeopsError` naming
the tracking URI, raised before the local backend records anything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.addresses import model_address
from edgeops.backends.layout import LABELS_TXT, MODEL_CARD, MODEL_FLOAT, MODEL_INT8, REPORT_HTML
from edgeops.config.checks import MLFLOW_CHALLENGER
from edgeops.config.model import MlflowTarget
from edgeops.errors import EdgeopsError
from edgeops.files import sha256_file
from edgeops.state import LiveVersion

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

ARTIFACT_PATH = "model"  # the run's folder a model version is registered from
ARTIFACTS = (MODEL_INT8, MODEL_FLOAT, LABELS_TXT, MODEL_CARD, REPORT_HTML)
REQUIRED = (MODEL_INT8, LABELS_TXT)
TAG_ADDRESS = "edgeops.address"  # the edgeops model's address: model.NAME
TAG_VERSION = "edgeops.version"
TAG_SHA256 = "edgeops.sha256"  # of the int8 .tflite
TAG_THRESHOLD = (
    "edgeops.threshold"  # a model version's confidence threshold (re-evaluations move it)
)
TAG_PERCENT = "edgeops.challenger_percent"  # on the registered model, while a rollout runs
# Defaults for MLflow's client (set in the environment to override): it retries a failing
# request 7 times over minutes, an apply says what is wrong sooner; and it prints run links to
# stdout and INFO lines to stderr, where only edgeops' own output goes.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Release:
    """An edgeops model version to register, with its folder of files on this machine."""

    version: LiveVersion
    folder: Path

    @property
    def address(self) -> str:
        return model_address(self.version.model)


# --- the three operations ----------------------------------------------------------------------


def publish(
    address: str,
    target: MlflowTarget,
    stable: Release,
    candidate: Release | None,
    recorded: dict[str, Any],
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Serve ``stable`` under the target's alias (and ``candidate`` under ``challenger``) and
    retire what the target's earlier state (``recorded``) set elsewhere; returns what the target
    records. Nothing is returned, so nothing is recorded, unless every step succeeded (but for
    the aliases left at a server the target moved away from: ``warn`` says so)."""
    uri, name = target.tracking_uri, target.name
    with _server(address, uri, "publishing to it") as client:
        experiment_id = _experiment(client, address, target.experiment)
        same_place = (recorded.get("tracking_uri"), recorded.get("name")) == (uri, name)
        _registered_model(client, name, target.tags, recorded.get("tags", {}) if same_place else {})
        champion = _register(client, name, experiment_id, stable)
        client.set_registered_model_alias(name, target.alias, champion["model_version"])
        state: dict[str, Any] = {
            "tracking_uri": uri,
            "name": name,
            "experiment": target.experiment,
            "alias": target.alias,
            "tags": dict(target.tags),
            **champion,
        }
        if candidate is not None:
            assert target.rollout is not None
            challenger = _register(client, name, experiment_id, candidate)
            client.set_registered_model_alias(name, MLFLOW_CHALLENGER, challenger["model_version"])
            client.set_registered_model_tag(name, TAG_PERCENT, f"{target.rollout.percent:g}")
            state["rollout"] = {
                "candidate": candidate.version.model,
                "version": candidate.version.version,
                "percent": target.rollout.percent,
                "eval_fingerprint": candidate.version.eval_fingerprint,
                "threshold": candidate.version.threshold,
                **challenger,
            }
    _retire(address, recorded, state, warn)
    return state


def unpublish(address: str, recorded: dict[str, Any]) -> None:
    """Remove the aliases the target set (those still pointing where edgeops put them) and the
    rollout's tag; registered model, versions, runs and the team's tags stay."""
    _retire(address, recorded, {})


def drift(address: str, state: dict[str, Any]) -> Iterator[str]:
    """What changed on the server since the target was published, one line each."""
    uri, name = state["tracking_uri"], state["name"]
    with _server(address, uri, "checking it for drift") as client:
        from mlflow.exceptions import MlflowException  # importable: _server checked

        try:
            model = client.get_registered_model(name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            yield f"MLflow registered model '{name}' was deleted"
            return
        aliases = {a: str(v) for a, v in (model.aliases or {}).items()}
        roles = [(state["alias"], state)]
        if state.get("rollout"):
            roles.append((MLFLOW_CHALLENGER, state["rollout"]))
        for alias, role in roles:
            want = str(role["model_version"])
            have = aliases.get(alias)
            if have == want:
                continue
            if not _version_exists(client, name, want):
                yield f"MLflow version {want} of '{name}' ({alias}) was deleted"
            elif have is None:
                yield f"MLflow alias '{alias}' of '{name}' was removed"
            else:
                yield f"MLflow alias '{alias}' of '{name}' was moved to version {have} (not {want})"
        tags = model.tags or {}
        for key, value in sorted(state.get("tags", {}).items()):
            if key not in tags:
                yield f"MLflow tag {key} of '{name}' was removed"
            elif tags[key] != value:
                yield f"MLflow tag {key} of '{name}' changed to '{tags[key]}'"


def delete_versions(address: str, versions: list[int], states: list[dict[str, Any]]) -> None:
    """Delete the MLflow model versions of the given (deleted) versions of the model at
    ``address`` from the registered models the targets in ``states`` publish to (explicit
    retention only). Their runs stay: they are the record of what was trained."""
    wanted = {str(v) for v in versions}
    for uri, name in sorted({(s["tracking_uri"], s["name"]) for s in states}):
        with _server(address, uri, "deleting old model versions") as client:
            for mv in _search_versions(client, name, {TAG_ADDRESS: address}):
                if (mv.tags or {}).get(TAG_VERSION) in wanted:
                    client.delete_model_version(name, mv.version)


# --- steps ---------------------------------------------------------------------------------------


def _experiment(client: MlflowClient, address: str, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return str(client.create_experiment(name))
    if found.lifecycle_stage != "active":
        raise EdgeopsError(
            f"{address}: the MLflow experiment '{name}' was deleted, and its name stays taken; "
            f"restore it (`mlflow experiments restore --experiment-id {found.experiment_id}`) "
            "or set the target's `experiment:` to another name"
        )
    return str(found.experiment_id)


def _registered_model(
    client: MlflowClient, name: str, tags: dict[str, str], earlier: dict[str, str]
) -> None:
    """Create the registered model, or set its tags; a tag edgeops set ``earlier`` and the
    config no longer has is removed (while it still has the value edgeops gave it)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, tags=dict(tags))
        return
    have = model.tags or {}
    for key, value in sorted(tags.items()):
        if have.get(key) != value:
            client.set_registered_model_tag(name, key, value)
    for key, value in sorted(earlier.items()):
        if key not in tags and have.get(key) == value:
            client.delete_registered_model_tag(name, key)


def _register(
    client: MlflowClient, name: str, experiment_id: str, release: Release
) -> dict[str, Any]:
    """The MLflow model version of ``release`` in ``name``: found by its edgeops tags, or
    registered from its run (found by the same tags, or logged now)."""
    v = release.version
    int8 = release.folder / MODEL_INT8
    if not int8.exists():
        raise EdgeopsError(
            f"{release.address} v{v.version}: {int8} is missing; the version folder was removed "
            "or damaged, so it cannot be published"
        )
    ids = {TAG_ADDRESS: release.address, TAG_VERSION: str(v.version), TAG_SHA256: sha256_file(int8)}
    threshold = "" if v.threshold is None else f"{v.threshold:g}"
    found = _search_versions(client, name, ids)
    if found:
        mv = max(found, key=lambda m: int(m.version))
        if (mv.tags or {}).get(TAG_THRESHOLD) != threshold:  # re-evaluated since registered
            client.log_batch(mv.run_id, metrics=_metrics(v))
            client.set_model_version_tag(name, mv.version, TAG_THRESHOLD, threshold)
        return {"model_version": str(mv.version), "run_id": mv.run_id, "sha256": ids[TAG_SHA256]}
    run = _run(client, experiment_id, ids, release)
    mv = client.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/{ARTIFACT_PATH}",
        run_id=run.info.run_id,
        tags={**ids, TAG_THRESHOLD: threshold},
    )
    return {"model_version": str(mv.version), "run_id": run.info.run_id, "sha256": ids[TAG_SHA256]}


def _run(client: MlflowClient, experiment_id: str, ids: dict[str, str], release: Release) -> Any:
    """The finished run of ``release``: an existing one (by its tags), one an interrupted publish
    left unfinished (completed now), or a new one."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=_filter(ids, prefix="tags."),
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    finished = [r for r in runs if r.info.status == "FINISHED"]
    if finished:
        return finished[0]
    v = release.version
    run = (
        runs[0]
        if runs
        else client.create_run(experiment_id, tags=ids, run_name=f"{v.model} v{v.version}")
    )
    run_id = run.info.run_id
    client.log_batch(run_id, metrics=_metrics(v), params=_params(v))
    for file in ARTIFACTS:
        path = release.folder / file
        if path.exists():
            client.log_artifact(run_id, str(path), ARTIFACT_PATH)
        elif file in REQUIRED:
            raise EdgeopsError(f"{release.address} v{v.version}: {path} is missing")
    client.set_terminated(run_id, "FINISHED")
    return client.get_run(run_id)


def _params(v: LiveVersion) -> list[Any]:
    from mlflow.entities import Param

    inputs = v.metrics.get("inputs") or {}
    budget = inputs.get("budget") or {}
    training = inputs.get("training") or {}
    values: dict[str, Any] = {
        "optimize_for": inputs.get("optimize_for"),
        "budget.node_hours": budget.get("node_hours"),
        "budget.early_stopping": budget.get("early_stopping"),
        **{f"training.{k}": value for k, value in sorted(training.items())},
        "multi_label": inputs.get("multi_label"),
        "trainer_version": inputs.get("trainer_version"),
        "dataset_fingerprint": inputs.get("dataset"),
        "training_fingerprint": v.fingerprint,
        "threshold_rule": v.metrics.get("threshold_rule"),
    }
    return [Param(k, str(value)) for k, value in values.items() if value is not None]


def _metrics(v: LiveVersion) -> list[Any]:
    """The evaluation at the version's threshold (precision, recall, F1 ...), AuPRC, log loss."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    summary = v.metrics.get("summary") or {}
    return [
        Metric(key, float(value), now, 0)
        for key, value in sorted(summary.items())
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def _retire(
    address: str,
    before: dict[str, Any],
    after: dict[str, Any],
    warn: Callable[[str], None] | None = None,
) -> None:
    """Remove the aliases ``before`` set that ``after`` does not set at the same place (each
    only while it still points where edgeops put it: never someone else's), and the rollout's
    tag when no rollout stays there. At a tracking server the target has moved away from, a
    failure is not an error: that server may be gone for good."""
    if not before:
        return
    uri, name = before["tracking_uri"], before["name"]
    same_place = (after.get("tracking_uri"), after.get("name")) == (uri, name)
    keep = set()
    if same_place:
        keep.add(after["alias"])
        if after.get("rollout"):
            keep.add(MLFLOW_CHALLENGER)
    doomed = [(before["alias"], before["model_version"])]
    if before.get("rollout"):
        doomed.append((MLFLOW_CHALLENGER, before["rollout"]["model_version"]))
    doomed = [(a, v) for a, v in doomed if a not in keep]
    drop_tag = bool(before.get("rollout")) and MLFLOW_CHALLENGER not in keep
    if not doomed and not drop_tag:
        return
    try:
        _remove_aliases(address, uri, name, doomed, drop_tag)
    except EdgeopsError:
        if not after or after.get("tracking_uri") == uri:
            raise
        if warn is not None:  # moved to another server: the old one may be gone for good
            left = ", ".join(alias for alias, _ in doomed) or f"the tag {TAG_PERCENT}"
            warn(
                f"{address}: now published at {after['tracking_uri']}; {left} of '{name}' at "
                f"{uri} could not be removed (that server did not answer); remove them there "
                "if it still runs"
            )


def _remove_aliases(
    address: str, uri: str, name: str, aliases: list[tuple[str, str]], drop_tag: bool
) -> None:
    with _server(address, uri, "removing aliases edgeops set") as client:
        from mlflow.exceptions import MlflowException  # importable: _server checked

        try:
            model = client.get_registered_model(name)
        except MlflowException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST":
                return  # deleted outside edgeops: nothing of ours is left there
            raise
        have = {a: str(v) for a, v in (model.aliases or {}).items()}
        for alias, version in aliases:
            if have.get(alias) == str(version):
                client.delete_registered_model_alias(name, alias)
        if drop_tag and TAG_PERCENT in (model.tags or {}):
            client.delete_registered_model_tag(name, TAG_PERCENT)


def _search_versions(client: MlflowClient, name: str, tags: dict[str, str]) -> list[Any]:
    out: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(
            f"name = '{name}' and " + _filter(tags, prefix="tags."),
            max_results=200,
            page_token=token,
        )
        out += list(page)
        token = page.token
        if not token:
            return out


def _version_exists(client: MlflowClient, name: str, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def _filter(tags: dict[str, str], prefix: str) -> str:
    return " and ".join(f"{prefix}`{k}` = '{v}'" for k, v in sorted(tags.items()))


# --- the client and its errors -------------------------------------------------------------------


@contextmanager
def _server(address: str, uri: str, doing: str) -> Iterator[MlflowClient]:
    """An MLflow client for ``uri``; any failure inside becomes one clear EdgeopsError."""
    for key, value in CLIENT_ENV.items():  # before the import: it configures MLflow's logging
        os.environ.setdefault(key, value)
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise EdgeopsError(
            f"{address}: publishing to MLflow needs MLflow's client library; install it with "
            "`pip install 'edgeops[mlflow]'`"
        ) from None
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    except (MlflowException, OSError) as e:  # requests' errors are OSErrors
        raise EdgeopsError(
            f"{address}: the MLflow tracking server at {uri} failed while {doing}: "
            f"{_reason(e)}; check the target's tracking_uri (or MLFLOW_TRACKING_URI), that the "
            "server runs and that its credentials (MLFLOW_TRACKING_USERNAME/PASSWORD or "
            "MLFLOW_TRACKING_TOKEN) are set. edgeops recorded nothing; apply again when it answers"
        ) from None


def _reason(e: BaseException) -> str:
    text = str(getattr(e, "message", None) or e)
    for marker, reason in (
        ("Connection refused", "the connection was refused"),
        ("Name or service not known", "the host name is unknown"),
        ("timed out", "it did not answer in time"),
    ):
        if marker in text:
            return reason
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return first if len(first) <= 300 else first[:297] + "..."
