"""The backend contract: what plan and apply need from a place that holds datasets and models.

A backend is registered by name in ``edgeops.backends.BACKENDS``. The local backend is the
reference implementation; the google backend implements the same operations on Google Cloud.
Model versions are named by their model's address (``model.NAME``) in calls, and a
``LiveVersion`` carries the model's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from edgeops.config.model import ModelSpec
from edgeops.progress import Reporter
from edgeops.state import (
    DesiredDataset,
    DesiredModel,
    DesiredPublish,
    LiveCandidate,
    LiveState,
    LiveVersion,
)

if TYPE_CHECKING:
    from edgeops.datasets.rules import DataRules
    from edgeops.datasets.scan import RemoteReader
    from edgeops.evaluation import Evaluation
    from edgeops.plan.definition import Plan


@dataclass(frozen=True)
class TrainerFacts:
    """What training a model means on a backend, known before anything is trained."""

    trainer_version: str  # part of every training fingerprint: a new trainer retrains
    estimate_seconds: float  # expected wall time
    cost_ceiling: str | None = None  # "$36.00": the most the budget can cost (paid training)
    estimate_basis: str = ""  # how the estimate was made ("estimated from 3 earlier runs …")


class Backend(Protocol):
    name: str

    # Read everything edgeops manages, including drift of publish targets. No writes.
    def read(self) -> LiveState: ...

    # Plan-wide notes only this backend knows (deprecations, quotas); pure, no I/O.
    def plan_warnings(self, plan: Plan) -> list[str]: ...

    # Trainer version, time estimate and cost ceiling of training `spec` on n images; pure.
    def trainer_facts(self, spec: ModelSpec, n_images: int) -> TrainerFacts: ...

    # The reader of remote (gs://) rows of csv sources, or None where they are an error.
    def remote_rows(self) -> RemoteReader | None: ...

    # What the backend's trainer refuses beyond edgeops' own data rules (labels, image
    # formats), checked when datasets are scanned; None when it refuses nothing more. Pure.
    def data_rules(self) -> DataRules | None: ...

    # Hold the one-apply-at-a-time lock; raises LockError naming the holder.
    def lock(self, command: str) -> AbstractContextManager[None]: ...

    # Remove the lock whoever holds it; returns the holder's info, or None when unlocked.
    def force_unlock(self) -> dict[str, Any] | None: ...

    # Make the dataset's images and labels exactly the desired ones (all or nothing).
    def import_dataset(self, dataset: DesiredDataset, reporter: Reporter) -> None: ...

    # Stop managing a dataset; stored images are kept.
    def forget_dataset(self, address: str) -> None: ...

    # Train, evaluate and export a new version of a model on its (already imported) dataset.
    def train_model(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveVersion: ...

    # The candidate trained at plan time for this training fingerprint, if any (no writes).
    def candidate(self, address: str, fingerprint: str) -> LiveCandidate | None: ...

    # Train a candidate at plan time (`plan --train`): recorded for its fingerprint, outside
    # the registry (two pull requests training different candidates never collide), compared
    # with the version the model's publish targets serve. Images are stored; nothing else of
    # the live state changes.
    def train_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, reporter: Reporter
    ) -> LiveCandidate: ...

    # Make a new version of the candidate trained in plan whose int8 file has `sha256`, byte
    # for byte (no training); EdgeopsError when it is gone or changed.
    def adopt_candidate(
        self, model: DesiredModel, dataset: DesiredDataset, sha256: str, reporter: Reporter
    ) -> LiveVersion: ...

    # Re-pick the threshold and re-check the gate of an existing version (no retraining).
    def evaluate_model(self, model: DesiredModel, version: int) -> LiveVersion: ...

    # A version's stored evaluation, and thumbnails (data URIs) of its worst mistakes by image.
    def evaluation_of(self, address: str, version: int) -> tuple[Evaluation, dict[str, str]]: ...

    # Delete the given versions of a model (explicit retention only), with what they own outside
    # the backend's records (LiveModel.resources).
    def delete_versions(self, address: str, versions: list[int]) -> None: ...

    # Delete copies of a dataset's earlier images (LiveDataset.old_resources) that no kept
    # version was trained on; names the backend does not hold for that dataset are left alone.
    def delete_dataset_resources(self, address: str, resources: list[str]) -> None: ...

    # Stop managing a model; its versions are kept.
    def forget_model(self, address: str) -> None: ...

    # Point a publish target at a (blessed) version; create or update in place. The state it
    # records includes `protect` (the planner refuses to unpublish a protected target). With a
    # `rollout`, `candidate` is the (blessed) version of the candidate model rolled out beside it,
    # and the state records it as `rollout: {candidate, version, percent, eval_fingerprint, ...}`
    # where `candidate` is the candidate model's name.
    def publish(
        self,
        target: DesiredPublish,
        version: LiveVersion,
        reporter: Reporter,
        candidate: LiveVersion | None = None,
    ) -> None: ...

    # Remove a publish target.
    def unpublish(self, address: str) -> None: ...


@runtime_checkable
class ModelRegistry(Protocol):
    """What `edgeops models` lists: a backend with a model registry and version files on this
    machine (the local backend)."""

    # The registry's entries by display name (model, version, tags, published, sha256, ...).
    def registry_entries(self) -> dict[str, dict[str, Any]]: ...

    # The int8 .tflite file of a version of the model at `address` (it may be gone).
    def model_file(self, address: str, version: int) -> Path: ...

    # The candidates trained in plan for the model at `address`, newest first.
    def candidates_of(self, address: str) -> list[LiveCandidate]: ...

    # A candidate's HTML evaluation report on this machine (with its comparison with the served
    # version); state in a bucket: fetched first. None when it has none.
    def candidate_report(self, candidate: LiveCandidate) -> Path | None: ...

    # The registry file `edgeops serve` reads, with every published version's files on this
    # machine (state in a bucket: fetched into this machine's working copy first).
    def prepare_serving(self) -> Path: ...


@runtime_checkable
class ImageFeatures(Protocol):
    """A backend that can compute backbone features of images on this machine (the local
    backend): what `edgeops inspect` and the review page judge near duplicates and likely
    label errors with."""

    # (backbone name, an (n, d) float32 matrix of L2-normalised features) of (sha256, read
    # bytes) pairs; `read` is called only for images whose features are not cached.
    def image_features(
        self, images: Sequence[tuple[str, Callable[[], bytes]]], reporter: Reporter
    ) -> tuple[str, Any]: ...


@runtime_checkable
class CachedFeatures(Protocol):
    """A backend whose machine may hold image features already (the local backend): what
    `edgeops plan` summarises each dataset's health from, without ever computing one."""

    # What `ImageFeatures.image_features` returns for these images when every one is cached on
    # this machine, else None.
    def cached_image_features(self, shas: Sequence[str]) -> tuple[str, Any] | None: ...

    # A folder of this machine's derived-data cache for health summaries (keyed by content).
    def health_cache(self) -> Path: ...


@runtime_checkable
class VersionScores(Protocol):
    """A backend that can run a trained version's model on this machine (the local backend):
    what the review page's suggestions come from once a model of the dataset is trained."""

    # (the version's labels in output order, an (n, k) float matrix of its scores) of (sha256,
    # read bytes) pairs.
    def version_scores(
        self, address: str, version: int, images: Sequence[tuple[str, Callable[[], bytes]]]
    ) -> tuple[list[str], Any]: ...
