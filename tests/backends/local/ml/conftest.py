"""A real training run on the objects example (212 photos, 6 labels), once per test session."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgeops.config.model import BudgetSpec, GateSpec, ModelSpec, ThresholdRule

REPO = Path(__file__).resolve().parents[4]
OBJECTS_ZIP = REPO / "examples" / "objects" / "data" / "objects.zip"


@dataclass(frozen=True)
class Dataset:
    root: Path
    labels: tuple[str, ...]
    examples: tuple  # tuple[TrainingExample, ...]


def split_of(path: Path) -> str:
    """70/15/15 by content hash, so the split is stable."""
    h = int(hashlib.sha256(path.read_bytes()).hexdigest()[:8], 16) % 100
    return "train" if h < 70 else "validation" if h < 85 else "test"


@pytest.fixture(scope="session")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    from edgeops.backends.local.ml import TrainingExample

    root = tmp_path_factory.mktemp("objects")
    with zipfile.ZipFile(OBJECTS_ZIP) as z:
        z.extractall(root)
    labels = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    examples = tuple(
        TrainingExample(f, (label,), split_of(f), image_id=f"{label}/{f.name}")
        for label in labels
        for f in sorted((root / label).iterdir())
    )
    return Dataset(root, labels, examples)


SPEC = ModelSpec(
    name="objects",
    dataset="objects",
    optimize_for="latency",
    budget=BudgetSpec(node_hours=0.05),
    threshold=ThresholdRule(max_f1=True),
    gate=GateSpec(min_au_prc=0.8),
)


@pytest.fixture(scope="session")
def spec() -> ModelSpec:
    return SPEC


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def trained(objects: Dataset, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from edgeops.backends.local.ml import train_and_export
    from edgeops.progress import NullReporter

    out = tmp_path_factory.mktemp("versions") / "objects" / "v1"
    return train_and_export(
        objects.examples,
        objects.labels,
        False,
        SPEC,
        out,
        version=1,
        dataset_fingerprint="sha256:test",
        reporter=NullReporter(),
        cache_dir=cache_dir,
    )
