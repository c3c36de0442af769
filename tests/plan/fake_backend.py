"""An in-memory backend that records its calls: the reference fake for applier tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edgeops.errors import LockError
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    LiveDataset,
    LiveModel,
    LivePublish,
    LiveState,
    LiveVersion,
)


class FakeBackend:
    name = "fake"

    def __init__(self, live: LiveState | None = None, *, passes_gate: bool = True) -> None:
        live = live or LiveState(backend="local")
        self.datasets = dict(live.datasets)
        self.models = {a: list(m.versions) for a, m in live.models.items()}
        self.trained_on = {a: dict(m.trained_on) for a, m in live.models.items()}
        self.publishes = dict(live.publish)
        self.passes_gate = passes_gate  # whether trained/re-evaluated versions are blessed
        self.calls: list[tuple[str, str]] = []
        self.locked_by: str | None = None

    def plan_warnings(self, plan: object) -> list[str]:
        return []

    def candidate(self, address: str, fingerprint: str) -> None:
        return None  # plan --train is tested with the local backend

    def read(self) -> LiveState:
        return LiveState(
            backend="local",
            datasets=dict(self.datasets),
            models={
                a: LiveModel(a, tuple(vs), trained_on=self.trained_on.get(a, {}))
                for a, vs in self.models.items()
                if vs
            },
            publish=dict(self.publishes),
        )

    @contextmanager
    def lock(self, command: str) -> Iterator[None]:
        if self.locked_by:
            raise LockError(f"held by {self.locked_by}")
        self.locked_by = command
        try:
            yield
        finally:
            self.locked_by = None

    def force_unlock(self) -> dict[str, Any] | None:
        holder, self.locked_by = self.locked_by, None
        return {"command": holder} if holder else None

    def import_dataset(self, dataset: DesiredDataset, reporter: Reporter) -> None:
        self.calls.append(("import_dataset", dataset.address))
        self.datasets[dataset.address] = LiveDataset(
            dataset.address, dataset.fingerprint, dataset.images
        )

    def forget_dataset(self, address: str) -> None:
        self.calls.append(("forget_dataset", address))
        del self.datasets[address]

    def _gate(self, model: DesiredModel) -> dict[str, Any]:
        return {
            "inputs": model.inputs,
            "threshold_rule": model.spec.threshold.describe(),
            "gate_spec": model.spec.gate.fingerprint_inputs(),  # as records.version_metrics
            "gate": {
                "rows": [{"metric": "precision", "value": 0.5, "bar": 0.8, "ok": self.passes_gate}]
            },
        }

    def train_model(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveVersion:
        self.calls.append(("train_model", model.address))
        assert self.datasets[dataset.address].fingerprint == model.inputs["dataset"]
        versions = self.models.setdefault(model.address, [])
        v = LiveVersion(
            model=model.spec.name,
            version=max((x.version for x in versions), default=0) + 1,
            fingerprint=model.fingerprint,
            eval_fingerprint=model.eval_fingerprint,
            status="ready",
            blessed=self.passes_gate,
            threshold=0.5,
            metrics=self._gate(model),
        )
        versions.append(v)
        return v

    def evaluate_model(self, model: DesiredModel, version: int) -> LiveVersion:
        self.calls.append(("evaluate_model", f"{model.address} v{version}"))
        versions = self.models[model.address]
        i = next(i for i, v in enumerate(versions) if v.version == version)
        versions[i] = dataclasses.replace(
            versions[i],
            eval_fingerprint=model.eval_fingerprint,
            blessed=self.passes_gate,
            metrics={**versions[i].metrics, **self._gate(model)},
        )
        return versions[i]

    def delete_versions(self, address: str, versions: list[int]) -> None:
        self.calls.append(("delete_versions", f"{address} {versions}"))
        self.models[address] = [v for v in self.models[address] if v.version not in versions]

    def delete_dataset_resources(self, address: str, resources: list[str]) -> None:
        self.calls.append(("delete_dataset_resources", f"{address} {resources}"))
        d = self.datasets[address]
        old = tuple(r for r in d.old_resources if r not in resources)
        self.datasets[address] = dataclasses.replace(d, old_resources=old)

    def forget_model(self, address: str) -> None:
        self.calls.append(("forget_model", address))
        del self.models[address]

    def publish(
        self,
        target: DesiredPublish,
        version: LiveVersion,
        reporter: Reporter,
        candidate: LiveVersion | None = None,
    ) -> None:
        call = f"{target.address} v{version.version}"
        state: dict[str, Any] = {
            "eval_fingerprint": version.eval_fingerprint,
            "protect": target.protect,
        }
        if target.rollout is not None:
            assert candidate is not None, "a rollout target is published with its candidate"
            call += f" + {candidate.model} v{candidate.version} at {target.rollout.percent:g}%"
            state["rollout"] = {
                "candidate": candidate.model,
                "version": candidate.version,
                "percent": target.rollout.percent,
                "eval_fingerprint": candidate.eval_fingerprint,
            }
        self.calls.append(("publish", call))
        self.publishes[target.address] = LivePublish(
            address=target.address,
            model=target.model,
            kind=target.kind,
            version=version.version,
            spec=dict(target.spec),
            state=state,
        )

    def unpublish(self, address: str) -> None:
        self.calls.append(("unpublish", address))
        del self.publishes[address]
