"""Small constructors of real desired/live state objects for planner and render tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgeops.config.model import (
    BudgetSpec,
    DatasetSpec,
    GateSpec,
    ModelSpec,
    RegistryTarget,
    SourceSpec,
    ThresholdRule,
)
from edgeops.resolve import eval_inputs
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    DesiredState,
    ImageRow,
    LiveDataset,
    LiveModel,
    LivePublish,
    LiveState,
    LiveVersion,
    fingerprint,
)

TRAINER = "test-trainer-1"


def img(n: int, *labels: str, split: str = "train") -> ImageRow:
    """Image number ``n`` (its hash is derived from n, so the same n is the same image)."""
    return ImageRow(sha256=f"{n:064x}", labels=tuple(sorted(labels)), split=split)


def imgs(per_label: dict[str, range], split: str = "train") -> tuple[ImageRow, ...]:
    """``imgs({"cat": range(0, 3), "dog": range(3, 5)})``: single-label images by number."""
    return tuple(img(n, label, split=split) for label, r in per_label.items() for n in r)


def _fp(rows: tuple[ImageRow, ...]) -> str:
    return fingerprint(sorted((r.sha256, list(r.labels), r.split) for r in rows))


def dataset(name: str, rows: tuple[ImageRow, ...], **kw: Any) -> DesiredDataset:
    rows = tuple(sorted(rows, key=lambda r: r.sha256))
    return DesiredDataset(
        address=f"dataset.{name}",
        spec=DatasetSpec(name=name, source=SourceSpec("folder", Path("/repo/data"))),
        fingerprint=_fp(rows),
        images=rows,
        **kw,
    )


def live_dataset(name: str, rows: tuple[ImageRow, ...]) -> LiveDataset:
    rows = tuple(sorted(rows, key=lambda r: r.sha256))
    return LiveDataset(address=f"dataset.{name}", fingerprint=_fp(rows), images=rows)


def model(
    name: str,
    ds: DesiredDataset,
    *,
    node_hours: float = 0.1,
    threshold: ThresholdRule | None = None,
    gate: GateSpec | None = None,
    keep: int | None = None,
) -> DesiredModel:
    """A desired model whose fingerprints are computed the way edgeops.resolve computes them."""
    spec = ModelSpec(
        name=name,
        dataset=ds.spec.name,
        budget=BudgetSpec(node_hours=node_hours),
        threshold=threshold or ThresholdRule(value=0.5),
        gate=gate or GateSpec(),
        keep=keep,
    )
    inputs = {
        "dataset": ds.fingerprint,
        "multi_label": ds.spec.multi_label,
        "optimize_for": spec.optimize_for,
        "budget": dataclasses.asdict(spec.budget),
        "training": dataclasses.asdict(spec.training),
        "trainer_version": TRAINER,
    }
    return DesiredModel(
        address=f"model.{name}",
        spec=spec,
        dataset_address=ds.address,
        fingerprint=fingerprint(inputs),
        eval_fingerprint=fingerprint(eval_inputs(spec)),
        inputs=inputs,
        n_images=len(ds.images),
        estimate_seconds=42.0,
    )


def version(m: DesiredModel, n: int, *, blessed: bool = True, status: str = "ready") -> LiveVersion:
    """Version ``n`` of ``m`` as if trained (and evaluated) from exactly this desired model."""
    return LiveVersion(
        model=m.spec.name,
        version=n,
        fingerprint=m.fingerprint,
        eval_fingerprint=m.eval_fingerprint,
        status=status,
        blessed=blessed,
        threshold=0.5,
        metrics={
            "inputs": m.inputs,
            "threshold_rule": m.spec.threshold.describe(),
            "gate_spec": m.spec.gate.fingerprint_inputs(),  # as records.version_metrics
        },
    )


def live_model(*versions: LiveVersion) -> LiveModel:
    return LiveModel(address=f"model.{versions[0].model}", versions=tuple(versions))


def registry(
    model_name: str,
    display_name: str | None = None,
    *,
    tags: tuple[str, ...] = (),
    pinned: int | None = None,
) -> DesiredPublish:
    target = RegistryTarget(display_name=display_name or model_name, tags=tags, version=pinned)
    return DesiredPublish(
        address=f"publish.{model_name}.registry",
        model=model_name,
        kind="registry",
        target=target,
        spec={"display_name": target.display_name, "tags": list(tags), "published": True},
        pinned_version=pinned,
    )


def live_registry(
    p: DesiredPublish, version_n: int, *, eval_fp: str = "", drift: tuple[str, ...] = (), **spec
) -> LivePublish:
    """The live side of ``p`` pointing at ``version_n``; ``spec`` overrides fields of p.spec."""
    return LivePublish(
        address=p.address,
        model=p.model,
        kind=p.kind,
        version=version_n,
        spec={**p.spec, **spec},
        state={"version": version_n, "eval_fingerprint": eval_fp} if eval_fp else {},
        drift=drift,
    )


def desired(*items: DesiredDataset | DesiredModel | DesiredPublish) -> DesiredState:
    return DesiredState(
        backend="local",
        datasets=tuple(i for i in items if isinstance(i, DesiredDataset)),
        models=tuple(i for i in items if isinstance(i, DesiredModel)),
        publish=tuple(i for i in items if isinstance(i, DesiredPublish)),
    )


def live(*items: LiveDataset | LiveModel | LivePublish) -> LiveState:
    return LiveState(
        backend="local",
        datasets={i.address: i for i in items if isinstance(i, LiveDataset)},
        models={i.address: i for i in items if isinstance(i, LiveModel)},
        publish={i.address: i for i in items if isinstance(i, LivePublish)},
    )
