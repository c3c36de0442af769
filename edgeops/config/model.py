"""Typed, frozen view of ``edgeops.yaml`` after loading, schema validation and defaults.

Everything after the loader works on these objects. Defaults are filled in here (not left as
``None``), so a default written explicitly in YAML never shows as a diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

OptimizeFor = Literal["latency", "balanced", "accuracy"]
Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")


@dataclass(frozen=True)
class StateLockSpec:
    """The one-apply-at-a-time lock on a backend's state (``$defs/state_lock``)."""

    heartbeat_seconds: float = 30.0  # the holder refreshes the lock this often
    stale_after_seconds: float = 600.0  # without a refresh this long, another apply takes it


@dataclass(frozen=True)
class LocalBackendSpec:
    # The folder edgeops works in: the state folder itself, or for state in a bucket this
    # machine's working copy of it (under the machine cache). Absolute.
    path: Path
    url: str = ""  # s3://bucket/prefix or gs://bucket/prefix when the state lives in a bucket
    endpoint_url: str | None = None  # an S3-compatible store's endpoint
    lock: StateLockSpec = StateLockSpec()

    @property
    def remote(self) -> bool:
        return bool(self.url)

    @property
    def location(self) -> str:
        """Where the state lives, for messages: the bucket URL or the folder."""
        return self.url or str(self.path)


@dataclass(frozen=True)
class GoogleBackendSpec:
    project: str
    location: str = "us-central1"
    bucket: str = ""
    prefix: str = "edgeops"
    price_per_node_hour: float = 18.0  # USD per node hour, edge training; see the schema
    firebase_project: str = ""  # defaults to `project` when empty
    lock: StateLockSpec = StateLockSpec()


@dataclass(frozen=True)
class BackendSpec:
    kind: Literal["local", "google"]
    local: LocalBackendSpec | None = None
    google: GoogleBackendSpec | None = None


@dataclass(frozen=True)
class SourceSpec:
    """Where a dataset's images come from. Exactly one kind.

    - ``zip``: a structured zip, one top-level folder per label (optionally under one root folder).
    - ``folder``: a folder of the same shape.
    - ``csv``: an index, one row per image: ``uri,label[,label...]``; paths relative to the CSV.
    - ``images``: a folder of (possibly unlabelled) images, labels from ``labels_file``
      (a CSV ``path,label[,label...]`` kept in the repository, paths relative to ``images``).

    ``labels_override`` (zip, folder, csv): a CSV in the repository whose rows
    (``image,sha256,label...``) replace the source's labels of the images they name, or remove
    them (label ``-``); see ``edgeops.datasets.overrides``.
    """

    kind: Literal["zip", "folder", "csv", "images"]
    path: Path  # absolute
    labels_file: Path | None = None  # only for kind == "images"; absolute
    labels_override: Path | None = None  # only for zip, folder, csv; absolute


@dataclass(frozen=True)
class SplitSpec:
    """Percentages of images assigned to each split, from each image's content hash."""

    train: int = 80
    validation: int = 10
    test: int = 10
    # near-duplicate images land in one split (from cached image features; see datasets/split.py)
    group_near_duplicates: bool = False


@dataclass(frozen=True)
class InspectSpec:
    """How ``edgeops inspect`` judges a dataset (never part of any fingerprint)."""

    near_duplicate_similarity: float = 0.95  # cosine of backbone features


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: SourceSpec
    multi_label: bool = False
    split: SplitSpec = field(default_factory=SplitSpec)
    inspect: InspectSpec = field(default_factory=InspectSpec, compare=False)
    line: int = field(default=0, compare=False)  # where declared in edgeops.yaml (messages)


@dataclass(frozen=True)
class BudgetSpec:
    node_hours: float = 0.1  # local: hours of wall time on this machine; google: node hours
    early_stopping: bool = True


@dataclass(frozen=True)
class ThresholdRule:
    """How the confidence threshold of a model version is picked. Exactly one is set."""

    value: float | None = None
    target_precision: float | None = None
    target_recall: float | None = None
    max_f1: bool = False

    def describe(self) -> str:
        if self.value is not None:
            return f"value {self.value:g}"
        if self.target_precision is not None:
            return f"target_precision {self.target_precision:g}"
        if self.target_recall is not None:
            return f"target_recall {self.target_recall:g}"
        return "max_f1"


ComparedMetric = Literal["au_prc", "top1_accuracy", "precision", "recall", "log_loss"]


@dataclass(frozen=True)
class VsPublished:
    """A bar relative to the version a publish target serves (the champion): the new version
    (the candidate) is blocked when it is significantly worse on ``metric`` by more than
    ``max_drop``, measured on the candidate's test split (for log loss, a rise of the loss)."""

    metric: ComparedMetric = "au_prc"
    max_drop: float = 0.0


EvaluateOn = Literal["test_split", "cross_validation"]


@dataclass(frozen=True)
class GateSpec:
    """Quality bar at the chosen threshold; None means no bar for that metric.

    ``evaluate_on``: what the bars read, the test split or the local trainer's k-fold
    cross-validation on train+validation (see :mod:`edgeops.evaluation.crossval`)."""

    min_precision: float | None = None
    min_recall: float | None = None
    min_au_prc: float | None = None
    vs_published: VsPublished | None = None
    evaluate_on: EvaluateOn = "test_split"

    def recorded(self) -> dict[str, object]:
        """What a version records of the gate it was judged by (``metrics["gate_spec"]``): the
        bars, and ``evaluate_on`` when not the default (versions recorded before it existed
        compare equal)."""
        out: dict[str, object] = {
            "min_precision": self.min_precision,
            "min_recall": self.min_recall,
            "min_au_prc": self.min_au_prc,
        }
        if self.evaluate_on != "test_split":
            out["evaluate_on"] = self.evaluate_on
        return out

    def fingerprint_inputs(self) -> dict[str, object]:
        """What a version's judgement depends on: the bars set. ``vs_published`` and
        ``evaluate_on`` are left out when unset (default), so gates written before they existed
        keep their fingerprints."""
        out = self.recorded()
        if self.vs_published is not None:
            out["vs_published"] = {
                "metric": self.vs_published.metric,
                "max_drop": self.vs_published.max_drop,
            }
        return out


@dataclass(frozen=True)
class TrainingOptions:
    seed: int = 0
    augment: bool = True
    label_smoothing: float = 0.1
    fine_tune: Literal["auto", "never"] = "auto"
    class_weights: Literal["auto", "none"] = "auto"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    dataset: str
    optimize_for: OptimizeFor = "latency"
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    threshold: ThresholdRule = field(default_factory=lambda: ThresholdRule(value=0.5))
    gate: GateSpec = field(default_factory=GateSpec)
    training: TrainingOptions = field(default_factory=TrainingOptions)
    keep: int | None = None  # retention: keep the newest N versions; None keeps all
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class RolloutSpec:
    """A staged rollout: ``percent`` of clients (by client id) get ``candidate``'s current
    version under the target's name, the rest the target's own (stable) version."""

    candidate: str  # another model's name
    percent: float  # 0..100, at most one decimal; 100 = fully promoted

    @property
    def basis_points(self) -> int:
        """``percent`` in hundredths of a percent (the unit client buckets are compared in)."""
        return round(self.percent * 100)


@dataclass(frozen=True)
class RegistryTarget:
    display_name: str
    tags: tuple[str, ...] = ()
    published: bool = True
    version: int | None = None  # pin a model version (rollback); None = current fingerprint
    rollout: RolloutSpec | None = None  # absent = everyone on this model (a rollback)
    protect: bool = True


@dataclass(frozen=True)
class BundleTarget:
    path: Path  # absolute path of the .tflite file in the app tree
    format: Literal["int8", "float32"] = "int8"
    protect: bool = True


@dataclass(frozen=True)
class FirebaseTarget:
    display_name: str
    tags: tuple[str, ...] = ()
    published: bool = True
    rollout: RolloutSpec | None = None  # written as a Remote Config parameter (percent condition)
    protect: bool = True


@dataclass(frozen=True)
class OnlineTarget:
    name: str  # the served model name: POST /v1/models/{name}:predict
    format: Literal["int8", "float32"] = "int8"
    protect: bool = True


@dataclass(frozen=True)
class GcsTarget:
    path: str  # gs://bucket/path/model.tflite
    format: Literal["int8", "float32"] = "int8"
    rollout: RolloutSpec | None = None  # a Remote Config parameter naming both files (percent)
    protect: bool = True


@dataclass(frozen=True)
class MlflowTarget:
    """A registered model in an MLflow Model Registry: each published version is an MLflow run
    (params, metrics, files) registered as a model version; ``alias`` points at the one served,
    ``challenger`` at a rollout candidate's."""

    tracking_uri: str  # when omitted: the environment's MLFLOW_TRACKING_URI, read at load time
    name: str  # the registered model
    experiment: str  # where the runs are logged; edgeops/<name> when omitted
    alias: str = "champion"
    tags: dict[str, str] = field(default_factory=dict, hash=False)  # on the registered model
    version: int | None = None  # pin a model version (rollback); None = current fingerprint
    rollout: RolloutSpec | None = None  # the candidate's version gets the `challenger` alias
    protect: bool = True


PublishTarget = (
    RegistryTarget | BundleTarget | FirebaseTarget | OnlineTarget | GcsTarget | MlflowTarget
)


@dataclass(frozen=True)
class PublishSpec:
    """All publish targets of one model, keyed by kind (``registry``, ``bundle``, ...)."""

    model: str
    targets: tuple[tuple[str, PublishTarget], ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Config:
    path: Path  # the edgeops.yaml file, absolute
    version: int
    backend: BackendSpec
    datasets: tuple[DatasetSpec, ...] = ()
    models: tuple[ModelSpec, ...] = ()
    publish: tuple[PublishSpec, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    def dataset(self, name: str) -> DatasetSpec:
        return next(d for d in self.datasets if d.name == name)

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)
