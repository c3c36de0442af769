"""A valid plain document -> the typed, frozen :class:`Config`.

It runs after schema validation and the cross-field checks, so every shape is known to be right
here. Keys that are absent take the dataclasses' defaults (so a default written out and one left
out give equal specs); numbers are normalised (YAML ``1`` and ``1.0`` are the same float);
relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from edgeops.config.checks import LineOf, mlflow_tracking_uri
from edgeops.config.model import (
    BackendSpec,
    BudgetSpec,
    BundleTarget,
    Config,
    DatasetSpec,
    FirebaseTarget,
    GateSpec,
    GcsTarget,
    GoogleBackendSpec,
    InspectSpec,
    LocalBackendSpec,
    MlflowTarget,
    ModelSpec,
    OnlineTarget,
    PublishSpec,
    PublishTarget,
    RegistryTarget,
    RolloutSpec,
    SourceSpec,
    SplitSpec,
    StateLockSpec,
    ThresholdRule,
    TrainingOptions,
    VsPublished,
)
from edgeops.machine import working_copy

TARGET_ORDER = ("registry", "bundle", "firebase", "online", "gcs", "mlflow")


def build_config(
    path: Path, data: dict[str, Any], line_of: LineOf, env: Mapping[str, str] | None = None
) -> Config:
    """The typed Config of a valid document; ``path`` is the config file, absolute; ``env``
    gives the defaults that come from the environment (an mlflow target's tracking URI)."""
    env = {} if env is None else env
    root = path.parent
    return Config(
        path=path,
        version=int(data["version"]),
        backend=_backend(data.get("backend"), root),
        datasets=tuple(
            _dataset(name, spec, root, line_of(("datasets", name)))
            for name, spec in data.get("datasets", {}).items()
        ),
        models=tuple(
            _model(name, spec, line_of(("models", name)))
            for name, spec in data.get("models", {}).items()
        ),
        publish=tuple(
            _publish(name, spec, root, line_of(("publish", name)), env)
            for name, spec in data.get("publish", {}).items()
        ),
    )


def _abs(root: Path, value: str) -> Path:
    return Path(os.path.normpath(root / value))


def _pick(spec: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The given keys that are present: absent keys take the dataclass defaults."""
    return {n: spec[n] for n in names if n in spec}


def _floats(spec: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Like :func:`_pick`, as floats (YAML ``1`` and ``1.0`` must give equal specs)."""
    return {n: float(spec[n]) for n in names if n in spec}


def _backend(spec: dict[str, Any] | None, root: Path) -> BackendSpec:
    if spec is not None and "google" in spec:
        g = spec["google"]
        options = _pick(g, "location", "prefix", "firebase_project")
        options.update(_floats(g, "price_per_node_hour"))
        if "lock" in g:
            options["lock"] = _state_lock(g["lock"])
        return BackendSpec(
            kind="google",
            google=GoogleBackendSpec(project=g["project"], bucket=g["bucket"], **options),
        )
    local = (spec or {}).get("local", {})
    path = str(local.get("path", ".edgeops"))
    lock = _state_lock(local.get("lock", {}))
    if path.startswith(("s3://", "gs://")):
        url = path.rstrip("/")
        return BackendSpec(
            kind="local",
            local=LocalBackendSpec(
                path=working_copy(url, local.get("endpoint_url")),
                url=url,
                endpoint_url=local.get("endpoint_url"),
                lock=lock,
            ),
        )
    return BackendSpec(kind="local", local=LocalBackendSpec(path=_abs(root, path), lock=lock))


def _state_lock(spec: Mapping[str, Any]) -> StateLockSpec:
    return StateLockSpec(**_floats(spec, "heartbeat_seconds", "stale_after_seconds"))


_SOURCE_KINDS: tuple[Literal["zip", "folder", "csv", "images"], ...] = (
    "zip",
    "folder",
    "csv",
    "images",
)


def _dataset(name: str, spec: dict[str, Any], root: Path, line: int) -> DatasetSpec:
    source = spec["source"]
    kind = next(k for k in _SOURCE_KINDS if k in source)
    labels = source.get("labels_file")
    override = source.get("labels_override")
    return DatasetSpec(
        name=name,
        source=SourceSpec(
            kind=kind,
            path=_abs(root, source[kind]),
            labels_file=_abs(root, labels) if labels is not None else None,
            labels_override=_abs(root, override) if override is not None else None,
        ),
        split=_split(spec.get("split", {})),
        inspect=InspectSpec(**_floats(spec.get("inspect", {}), "near_duplicate_similarity")),
        line=line,
        **_pick(spec, "multi_label"),
    )


def _split(spec: Mapping[str, Any]) -> SplitSpec:
    default = SplitSpec()
    return SplitSpec(
        train=int(spec.get("train", default.train)),
        validation=int(spec.get("validation", default.validation)),
        test=int(spec.get("test", default.test)),
        group_near_duplicates=bool(spec.get("group_near_duplicates", False)),
    )


def _model(name: str, spec: dict[str, Any], line: int) -> ModelSpec:
    options = _pick(spec, "optimize_for")
    if "budget" in spec:
        budget = spec["budget"]
        options["budget"] = BudgetSpec(
            **_floats(budget, "node_hours"), **_pick(budget, "early_stopping")
        )
    if "threshold" in spec:
        rule = spec["threshold"]
        options["threshold"] = (
            ThresholdRule(max_f1=True)
            if "max_f1" in rule
            else ThresholdRule(**_floats(rule, "value", "target_precision", "target_recall"))
        )
    if "gate" in spec:
        gate = spec["gate"]
        bars = _floats(gate, "min_precision", "min_recall", "min_au_prc")
        if "vs_published" in gate:
            vs = gate["vs_published"]
            bars["vs_published"] = VsPublished(**_pick(vs, "metric"), **_floats(vs, "max_drop"))
        options["gate"] = GateSpec(**bars, **_pick(gate, "evaluate_on"))
    if "training" in spec:
        training = spec["training"]
        training_options = _pick(training, "augment", "fine_tune", "class_weights")
        training_options.update(_floats(training, "label_smoothing"))
        if "seed" in training:
            training_options["seed"] = int(training["seed"])
        options["training"] = TrainingOptions(**training_options)
    if "keep" in spec:
        options["keep"] = int(spec["keep"])
    return ModelSpec(name=name, dataset=spec["dataset"], line=line, **options)


def _publish(
    model: str, spec: dict[str, Any], root: Path, line: int, env: Mapping[str, str]
) -> PublishSpec:
    targets: list[tuple[str, PublishTarget]] = []
    for kind in TARGET_ORDER:
        if kind not in spec:
            continue
        fields = dict(spec[kind])
        if kind == "mlflow":
            fields["tags"] = dict(fields.get("tags", {}))
            fields["tracking_uri"] = mlflow_tracking_uri(fields, env)
            fields.setdefault("experiment", f"edgeops/{fields['name']}")
        elif "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        if "version" in fields:
            fields["version"] = int(fields["version"])
        if "rollout" in fields:
            rollout = fields["rollout"]
            fields["rollout"] = RolloutSpec(
                candidate=rollout["candidate"], percent=float(rollout["percent"])
            )
        target: PublishTarget
        if kind == "registry":
            target = RegistryTarget(**fields)
        elif kind == "bundle":
            fields["path"] = _abs(root, fields["path"])
            target = BundleTarget(**fields)
        elif kind == "firebase":
            target = FirebaseTarget(**fields)
        elif kind == "online":
            target = OnlineTarget(**fields)
        elif kind == "gcs":
            target = GcsTarget(**fields)
        else:
            target = MlflowTarget(**fields)
        targets.append((kind, target))
    return PublishSpec(model=model, targets=tuple(targets), line=line)
