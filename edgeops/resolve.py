"""Config -> DesiredState: scan each dataset's source and compute every fingerprint.

This is the only step of planning that reads dataset files (through a hash cache, so an
unchanged dataset is not re-read). It never touches the backend.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgeops.config.model import BundleTarget, Config, ModelSpec, PublishTarget
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    DesiredState,
    ImageRow,
    fingerprint,
)


def cache_path(config: Config) -> Path:
    """The dataset hash cache: under the local backend's path, else ``.edgeops/`` beside the
    config (the google backend keeps no state on disk but this cache)."""
    local = config.backend.local
    base = local.path if local is not None else config.root / ".edgeops"
    return base / "cache" / "hashes.sqlite"


def remote_reader(config: Config) -> Any:
    """The google backend's reader of gs:// rows in csv sources (None on the local backend,
    where such rows stay an error)."""
    google = config.backend.google
    if google is None:
        return None
    from edgeops.backends.google.clients import Clients
    from edgeops.backends.google.gcs_source import GcsRows

    return GcsRows(lambda: Clients(google).storage)


def resolve(config: Config, reporter: Reporter) -> DesiredState:
    from edgeops.datasets import scan_dataset

    datasets = []
    remote = remote_reader(config)
    for spec in config.datasets:
        manifest = scan_dataset(
            spec,
            root=config.root,
            cache_path=cache_path(config),
            reporter=reporter,
            remote=remote,
        )
        rows = tuple(
            ImageRow(sha256=r.sha256, labels=tuple(r.labels), split=r.split)
            for r in manifest.images
        )
        datasets.append(
            DesiredDataset(
                address=f"dataset.{spec.name}",
                spec=spec,
                fingerprint=manifest.fingerprint(),
                images=rows,
                unlabelled=len(manifest.unlabelled),
                warnings=tuple(manifest.warnings),
                manifest=manifest,
            )
        )
    by_name = {d.spec.name: d for d in datasets}
    models = [_desired_model(config, m, by_name[m.dataset]) for m in config.models]
    publish = [
        _desired_publish(config, p.model, kind, target)
        for p in config.publish
        for kind, target in p.targets
    ]
    return DesiredState(
        backend=config.backend.kind,
        datasets=tuple(datasets),
        models=tuple(models),
        publish=tuple(publish),
    )


def model_inputs(
    spec: ModelSpec, dataset: DesiredDataset, trainer_version: str | None = None
) -> dict[str, Any]:
    """Everything a trained version depends on: a change to any of these retrains.
    ``trainer_version`` defaults to the local trainer's."""
    if trainer_version is None:
        from edgeops.backends.local.ml import TRAINER_VERSION as trainer_version

    return {
        "dataset": dataset.fingerprint,
        "multi_label": dataset.spec.multi_label,
        "optimize_for": spec.optimize_for,
        "budget": dataclasses.asdict(spec.budget),
        "training": dataclasses.asdict(spec.training),
        "trainer_version": trainer_version,
    }


def _desired_model(config: Config, spec: ModelSpec, dataset: DesiredDataset) -> DesiredModel:
    google = config.backend.google
    cost_ceiling = None
    if google is not None:  # Vertex AI AutoML Edge: the budget bounds both time and cost
        from edgeops.backends.google import TRAINER_VERSION as trainer_version

        estimate = spec.budget.node_hours * 3600
        cost_ceiling = f"${spec.budget.node_hours * google.price_per_node_hour:,.2f}"
    else:
        from edgeops.backends.local.ml import TRAINER_VERSION as trainer_version
        from edgeops.backends.local.ml import estimate_seconds

        estimate = estimate_seconds(len(dataset.images), spec.optimize_for)
    inputs = model_inputs(spec, dataset, trainer_version)
    return DesiredModel(
        address=f"model.{spec.name}",
        spec=spec,
        dataset_address=dataset.address,
        fingerprint=fingerprint(inputs),
        eval_fingerprint=fingerprint(
            {
                "threshold": dataclasses.asdict(spec.threshold),
                "gate": dataclasses.asdict(spec.gate),
            }
        ),
        inputs=inputs,
        n_images=len(dataset.images),
        estimate_seconds=estimate,
        cost_ceiling=cost_ceiling,
    )


def _desired_publish(
    config: Config, model: str, kind: str, target: PublishTarget
) -> DesiredPublish:
    spec: dict[str, Any] = {}
    for f in dataclasses.fields(target):
        if f.name in ("version", "protect"):
            continue
        value = getattr(target, f.name)
        if f.name == "rollout":
            if value is not None:  # absent when unset: targets applied before rollouts stay equal
                spec["rollout"] = {"candidate": value.candidate, "percent": value.percent}
            continue
        if isinstance(value, Path):
            value = (
                str(value.relative_to(config.root))
                if value.is_relative_to(config.root)
                else str(value)
            )
        elif isinstance(value, tuple):
            value = list(value)
        spec[f.name] = value
    return DesiredPublish(
        address=f"publish.{model}.{kind}",
        model=model,
        kind=kind,
        target=target,
        spec=spec,
        pinned_version=getattr(target, "version", None),
        protect=getattr(target, "protect", True),
        rollout=getattr(target, "rollout", None),
    )


__all__ = ["BundleTarget", "resolve"]
