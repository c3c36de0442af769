"""Config -> DesiredState: scan each dataset's source and compute every fingerprint.

This is the only step of planning that reads dataset files (through a hash cache, so an
unchanged dataset is not re-read). It never reads or writes the backend's state: it asks the
backend only what it knows without I/O (its trainer's version, estimates, cost ceilings, the
data rules its trainer adds) and for its reader of remote (gs://) rows in csv sources.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from edgeops.addresses import dataset_address, model_address, publish_address
from edgeops.backends.base import Backend
from edgeops.config.model import Config, ModelSpec, PublishTarget
from edgeops.gcpause import pausing
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    DesiredState,
    ImageRow,
    fingerprint,
)

# An ImageRow from a record's first three fields, both by C code (a NamedTuple's __new__ is a
# Python function: 0.1 s of a plan on 100k images)
_row_fields = itemgetter(0, 1, 2)
_image_row = partial(tuple.__new__, ImageRow)


def cache_path(config: Config) -> Path:
    """The dataset hash cache: under the local backend's path, else ``.edgeops/`` beside the
    config (the google backend keeps no state on disk but this cache)."""
    local = config.backend.local
    base = local.path if local is not None else config.root / ".edgeops"
    return base / "cache" / "hashes.sqlite"


@pausing
def resolve(config: Config, backend: Backend, reporter: Reporter) -> DesiredState:
    from edgeops.datasets import scan_dataset
    from edgeops.health.grouping import near_groups_for

    datasets = []
    remote, rules = backend.remote_rows(), backend.data_rules()
    for spec in config.datasets:
        manifest = scan_dataset(
            spec,
            root=config.root,
            cache_path=cache_path(config),
            reporter=reporter,
            remote=remote,
            rules=rules,
            near=near_groups_for(spec, backend),
        )
        # (sha256, labels, split) are a record's first three fields: rows made in C loops
        rows = tuple(map(_image_row, map(_row_fields, manifest.images)))
        datasets.append(
            DesiredDataset(
                address=dataset_address(spec.name),
                spec=spec,
                fingerprint=manifest.fingerprint(),
                images=rows,
                unlabelled=len(manifest.unlabelled),
                warnings=tuple(manifest.warnings),
                manifest=manifest,
            )
        )
    by_name = {d.spec.name: d for d in datasets}
    models = [_desired_model(backend, m, by_name[m.dataset]) for m in config.models]
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


def model_inputs(spec: ModelSpec, dataset: DesiredDataset, trainer_version: str) -> dict[str, Any]:
    """Everything a trained version depends on: a change to any of these retrains."""
    return {
        "dataset": dataset.fingerprint,
        "multi_label": dataset.spec.multi_label,
        "optimize_for": spec.optimize_for,
        "budget": dataclasses.asdict(spec.budget),
        "training": dataclasses.asdict(spec.training),
        "trainer_version": trainer_version,
    }


def eval_inputs(spec: ModelSpec) -> dict[str, Any]:
    """Everything a version's judgement depends on: a change re-evaluates without retraining."""
    return {
        "threshold": dataclasses.asdict(spec.threshold),
        "gate": spec.gate.fingerprint_inputs(),
    }


def _desired_model(backend: Backend, spec: ModelSpec, dataset: DesiredDataset) -> DesiredModel:
    facts = backend.trainer_facts(spec, len(dataset.images))
    inputs = model_inputs(spec, dataset, facts.trainer_version)
    return DesiredModel(
        address=model_address(spec.name),
        spec=spec,
        dataset_address=dataset.address,
        fingerprint=fingerprint(inputs),
        eval_fingerprint=fingerprint(eval_inputs(spec)),
        inputs=inputs,
        n_images=len(dataset.images),
        estimate_seconds=facts.estimate_seconds,
        estimate_basis=facts.estimate_basis,
        cost_ceiling=facts.cost_ceiling,
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
        address=publish_address(model, kind),
        model=model,
        kind=kind,
        target=target,
        spec=spec,
        pinned_version=getattr(target, "version", None),
        protect=getattr(target, "protect", True),
        rollout=getattr(target, "rollout", None),
    )
