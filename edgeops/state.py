"""Desired and live state: the two frozen inputs of the planner.

``DesiredState`` is what edgeops.yaml (plus the dataset files it points at) asks for, resolved
into fingerprints. ``LiveState`` is what a backend holds. Both are plain data: the planner compares
them without I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from edgeops.config.model import DatasetSpec, ModelSpec, PublishTarget, RolloutSpec


def fingerprint(obj: Any) -> str:
    """A stable sha256 of a JSON-able object (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def short(fp: str | None) -> str:
    return fp[:12] if fp else "-"


# --- desired ---------------------------------------------------------------------------------


class ImageRow(NamedTuple):
    """One image of a dataset as the planner sees it (desired or live). A NamedTuple: a plan
    holds one per image, desired and live (100k each on a large dataset)."""

    sha256: str
    labels: tuple[str, ...]
    split: str


@dataclass(frozen=True)
class DesiredDataset:
    address: str
    spec: DatasetSpec
    fingerprint: str
    images: tuple[ImageRow, ...]  # labelled images only, sorted by sha256
    unlabelled: int = 0
    warnings: tuple[str, ...] = ()
    manifest: Any = None  # edgeops.datasets.Manifest, for the backend's import (not compared)


@dataclass(frozen=True)
class DesiredModel:
    address: str
    spec: ModelSpec
    dataset_address: str
    fingerprint: str  # training fingerprint: dataset + options + trainer version
    eval_fingerprint: str  # threshold rule + gate
    inputs: dict[str, Any] = field(default_factory=dict)  # what the fingerprint covers, for reasons
    n_images: int = 0
    estimate_seconds: float = 0.0
    estimate_basis: str = ""  # how the estimate was made, for people
    cost_ceiling: str | None = None  # "$36.00": budget x price per node hour (google backend)


@dataclass(frozen=True)
class DesiredPublish:
    address: str
    model: str
    kind: str
    target: PublishTarget
    spec: dict[str, Any]  # the target's fields, JSON-able, paths relative to the config folder
    pinned_version: int | None = None
    protect: bool = True
    rollout: RolloutSpec | None = None  # the candidate model rolled out under this target


@dataclass(frozen=True)
class DesiredState:
    backend: str
    datasets: tuple[DesiredDataset, ...] = ()
    models: tuple[DesiredModel, ...] = ()
    publish: tuple[DesiredPublish, ...] = ()


# --- live ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveDataset:
    address: str
    fingerprint: str
    images: tuple[ImageRow, ...]
    updated_at: str = ""
    # the backend's own copy of these images, when it keeps one outside its records (a Vertex AI
    # dataset), and the copies of earlier images that it still keeps: a plan deletes one of
    # those once no kept model version was trained on it
    resource: str = ""
    old_resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveVersion:
    model: str  # the model's NAME ("flowers", not "model.flowers"), on every backend
    version: int
    fingerprint: str
    eval_fingerprint: str
    status: str  # "ready" | "failed"
    blessed: bool
    threshold: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = ""
    cost_node_hours: float = 0.0
    created_at: str = ""
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256


@dataclass(frozen=True)
class LiveCandidate:
    """A model trained at plan time (``edgeops plan --train``) for a training fingerprint: not a
    version yet (nothing serves it, no target is blessed by it) until an apply adopts it."""

    model: str  # the model's name
    fingerprint: str  # the training fingerprint it was trained for
    eval_fingerprint: str
    trained_at: str
    sha256: str  # of its int8 .tflite: what the review saw is what ships
    blessed: bool
    threshold: float | None
    metrics: dict[str, Any] = field(default_factory=dict)  # as a version records them
    stop_reason: str = ""
    cost_node_hours: float = 0.0
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    champion: int | None = None  # the version served when it was trained, compared against
    comparison: dict[str, Any] | None = None  # champion vs candidate on the same test images

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LiveCandidate:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class LiveModel:
    address: str
    versions: tuple[LiveVersion, ...]  # oldest first
    # version -> what deleting it deletes outside the backend's records (a Vertex AI model, its
    # files in a bucket), named so that a plan can list them
    resources: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # version -> the dataset resource (LiveDataset.resource) it was trained on
    trained_on: dict[int, str] = field(default_factory=dict)

    def latest(self) -> LiveVersion | None:
        ready = [v for v in self.versions if v.status == "ready"]
        return ready[-1] if ready else None

    def by_fingerprint(self, fp: str) -> LiveVersion | None:
        found = [v for v in self.versions if v.fingerprint == fp and v.status == "ready"]
        return found[-1] if found else None

    def by_version(self, n: int) -> LiveVersion | None:
        return next((v for v in self.versions if v.version == n), None)


@dataclass(frozen=True)
class LivePublish:
    address: str
    model: str
    kind: str
    version: int
    spec: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)  # what was written (sha256, threshold, ...)
    drift: tuple[str, ...] = ()  # what changed outside edgeops, one line each

    @property
    def protect(self) -> bool:
        """The `protect` the target had when it was published; targets recorded before edgeops
        recorded it are protected (the safe default)."""
        return self.state.get("protect") is not False


@dataclass(frozen=True)
class LiveState:
    backend: str
    datasets: dict[str, LiveDataset] = field(default_factory=dict)
    models: dict[str, LiveModel] = field(default_factory=dict)
    publish: dict[str, LivePublish] = field(default_factory=dict)

    def served_versions(self, model: str) -> set[int]:
        """Versions of the model named ``model`` that publish targets serve: their own, and as
        rollout candidates."""
        out = {p.version for p in self.publish.values() if p.model == model}
        for p in self.publish.values():
            rollout = p.state.get("rollout") or {}
            if rollout.get("candidate") == model and isinstance(rollout.get("version"), int):
                out.add(rollout["version"])
        return out

    def dataset_resources_in_use(self) -> set[str]:
        """Dataset resources a ready model version was trained on."""
        return {
            resource
            for m in self.models.values()
            for v in m.versions
            if v.status == "ready" and (resource := m.trained_on.get(v.version))
        }

    def serial(self, address: str) -> str:
        """A fingerprint of one resource's live state, used to detect a stale saved plan."""
        if address in self.datasets:
            return self.datasets[address].fingerprint
        if address in self.models:
            m = self.models[address]
            return fingerprint(
                [(v.version, v.fingerprint, v.eval_fingerprint, v.status) for v in m.versions]
            )
        if address in self.publish:
            p = self.publish[address]
            return fingerprint([p.version, p.spec, p.state, list(p.drift)])
        return "absent"
