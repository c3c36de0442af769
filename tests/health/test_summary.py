"""`edgeops plan`'s dataset health: counted from cached features only, kept by content."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeops.backends.base import CachedFeatures
from edgeops.health.summary import dataset_health
from edgeops.plan.definition import DatasetHealth, Plan
from edgeops.plan.render import health_line, render_markdown, render_text
from edgeops.state import ImageRow
from tests.plan.factories import dataset, img


class Cached:
    """A backend whose machine has features for ``features`` (sha -> vector) and nothing else."""

    name = "fake"

    def __init__(self, features: dict[str, np.ndarray], cache: Path) -> None:
        self.features = features
        self.cache = cache
        self.asked = 0

    def cached_image_features(self, shas: Sequence[str]) -> tuple[str, Any] | None:
        self.asked += 1
        if not all(s in self.features for s in shas):
            return None
        x = np.stack([self.features[s] for s in shas]).astype(np.float32)
        return "fake", x / np.linalg.norm(x, axis=1, keepdims=True)

    def health_cache(self) -> Path:
        return self.cache


def _row(n: int, label: str, split: str) -> ImageRow:
    # real-looking hashes: the probe's folds come from sha256[8:16]
    return ImageRow(hashlib.sha256(str(n).encode()).hexdigest(), (label,), split)


def _planted() -> tuple[tuple[ImageRow, ...], dict[str, np.ndarray]]:
    """Two labels of 30 images each (every fifth in test), features along the label's axis
    plus a random direction (so no two are near); image 0 (a cat in train) has a near copy in
    test, and image 5 (test) is labelled dog but looks like a cat."""
    rng = np.random.default_rng(0)
    rows, feats = [], {}
    for n in range(60):
        looks = "cat" if n < 30 else "dog"
        row = _row(n, "dog" if n == 5 else looks, "test" if n % 5 == 0 and n else "train")
        noise = rng.normal(0, 1, 64)
        feats[row.sha256] = 3.0 * np.eye(64)[
            0 if looks == "cat" else 1
        ] + 2 * noise / np.linalg.norm(noise)
        rows.append(row)
    copy = _row(100, "cat", "test")
    rows.append(copy)
    feats[copy.sha256] = feats[rows[0].sha256] + rng.normal(0, 0.01, 64)
    return tuple(sorted(rows, key=lambda r: r.sha256)), feats


def test_counts_from_cached_features_then_from_the_kept_summary(tmp_path: Path) -> None:
    rows, feats = _planted()
    backend = Cached(feats, tmp_path / "health")
    assert isinstance(backend, CachedFeatures)
    d = dataset("pets", rows)
    h = dataset_health(d, backend)
    assert h.inspected and h.note == ""
    assert h.near_duplicate_pairs == 1
    assert h.straddling_pairs == 1  # image 0 in train, its copy in test
    assert h.suspected_label_errors == 1  # image 5
    assert h.near_duplicate_similarity == 0.95
    again = dataset_health(d, backend)
    assert again == h
    assert backend.asked == 1  # the second plan read the kept summary


def test_not_inspected_when_any_feature_is_missing(tmp_path: Path) -> None:
    rows, feats = _planted()
    del feats[rows[3].sha256]
    h = dataset_health(dataset("pets", rows), Cached(feats, tmp_path))
    assert not h.inspected
    assert h.note == "not inspected yet: run `edgeops inspect dataset.pets`"
    assert "not inspected yet" in health_line(h)
    assert not list(tmp_path.iterdir())  # nothing judged, nothing kept


def test_imbalance_and_unlabelled_need_no_features() -> None:
    rows = tuple(img(n, "cat") for n in range(40)) + tuple(img(n, "dog") for n in range(40, 50))
    h = dataset_health(dataset("pets", rows, unlabelled=3), object())
    assert not h.inspected
    assert h.imbalance == {"largest": "cat", "smallest": "dog", "ratio": 4.0}
    assert h.unlabelled == 3
    assert "backend does not compute" in h.note
    assert health_line(h).startswith("dataset.pets: imbalance 4x ('cat' / 'dog'), 3 unlabelled")


def test_multi_label_datasets_are_not_judged_for_label_errors(tmp_path: Path) -> None:
    rows, feats = _planted()
    d = dataset("pets", rows)
    d = dataclasses.replace(d, spec=dataclasses.replace(d.spec, multi_label=True))
    h = dataset_health(d, Cached(feats, tmp_path))
    assert h.suspected_label_errors is None
    assert "label errors not judged (multi-label)" in health_line(h)


HEALTH = (
    DatasetHealth(
        "dataset.pets",
        inspected=True,
        near_duplicate_pairs=3,
        straddling_pairs=1,
        suspected_label_errors=2,
        near_duplicate_similarity=0.95,
    ),
    DatasetHealth("dataset.birds", inspected=False, note="not inspected yet: run `x`"),
)


@pytest.mark.parametrize("health", [HEALTH])
def test_plan_lists_health_in_text_markdown_and_json(health: tuple[DatasetHealth, ...]) -> None:
    plan = Plan(backend="local", config_path="edgeops.yaml", health=health)
    text = render_text(plan)
    assert "Dataset health" in text
    assert (
        "! dataset.pets: 3 near-duplicate pairs (1 straddling train and validation/test), "
        "2 suspected label errors" in text
    )
    assert "dataset.birds: not inspected yet: run `x`" in text
    assert text.rstrip().endswith("No changes.")
    md = render_markdown(plan)
    assert "<details><summary><b>Dataset health</b>: 1 of 2 dataset(s) with warnings, " in md
    assert "| `dataset.pets` | 3 | 1 | 2 | — |  |" in md
    assert "| `dataset.birds` | — | — | — | — | not inspected yet: run `x` |" in md
    assert Plan.from_dict(plan.to_dict()).health == health
    assert plan.to_dict()["health"][0]["straddling_pairs"] == 1


def test_the_feature_backbone_name_is_the_backbone_s() -> None:
    from edgeops.backends.local.features import FEATURE_BACKBONE, FEATURE_BACKBONE_NAME
    from edgeops.backends.local.ml.backbone import backbone_for

    assert backbone_for(FEATURE_BACKBONE).name == FEATURE_BACKBONE_NAME


def test_a_plan_before_any_inspect_says_so_and_imports_no_numpy(repo: Path) -> None:
    code = (
        "import sys, edgeops.cli\n"
        "rc = edgeops.cli.main(['plan'])\n"
        "print(rc, sorted({'numpy', 'torch', 'ai_edge_litert'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "dataset.pets: not inspected yet: run `edgeops inspect dataset.pets`" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "0 []"
