"""The review page's suggestions from a ready version of the dataset's model: it judges the
images it never trained on (validation, test, unlabelled); the probe keeps judging train."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeops.config.loader import load_config
from edgeops.resolve import cache_path
from edgeops.review.session import ReviewSession
from edgeops.state import LiveModel, LiveState, LiveVersion

from .conftest import UNLABELLED


class Trained:
    """Features along each image's given label (the probe agrees with every label), and a
    version whose scores come from ``opinion`` (sha256 -> label), recording what it scored."""

    name = "fake"

    def __init__(self, given: dict[str, str], opinion: dict[str, str], labels: list[str]) -> None:
        self.given, self.opinion, self.labels = given, opinion, labels
        self.scored: list[str] = []

    def image_features(self, images: Any, reporter: Any) -> tuple[str, np.ndarray]:
        rng = np.random.default_rng(0)
        x = rng.normal(0, 0.05, (len(images), 8)).astype(np.float32)
        for i, (sha, _read) in enumerate(images):
            x[i, ["animal", "fish"].index(self.given.get(sha, "fish"))] += 1.0
        return "fake", x / np.linalg.norm(x, axis=1, keepdims=True)

    def read(self) -> LiveState:
        v = LiveVersion("critters", 2, "fp", "efp", "ready", True, 0.5)
        return LiveState("fake", models={"model.critters": LiveModel("model.critters", (v,))})

    def version_scores(
        self, address: str, version: int, images: Sequence[tuple[str, Callable[[], bytes]]]
    ) -> tuple[list[str], np.ndarray]:
        assert (address, version) == ("model.critters", 2)
        rows = []
        for sha, read in images:
            assert read()  # the image's bytes are there
            self.scored.append(sha)
            row = np.full(len(self.labels), 0.1, np.float32)
            label = self.opinion.get(sha, self.given.get(sha, "fish"))
            row[self.labels.index(label) if label in self.labels else 0] = 0.9
            rows.append(row)
        return self.labels, np.stack(rows)


def _session(root: Path, backend: Any) -> ReviewSession:
    config = load_config(root / "edgeops.yaml")
    return ReviewSession(
        config.dataset("critters"),
        root=config.root,
        cache_path=cache_path(config),
        backend=backend,
        models=("model.critters",),
    )


def test_a_ready_version_judges_what_it_never_trained_on(labelling_repo: Path) -> None:
    plain = _session(labelling_repo, None)
    images = plain.review.images
    given = {im.sha256: im.labels[0] for im in images if im.labels}
    held = [im for im in images if im.split in ("validation", "test")]
    assert held  # the example has held-out images
    flipped = held[0]  # the version thinks this held-out image is the other label
    other = "fish" if flipped.labels[0] == "animal" else "animal"
    train = next(im for im in images if im.split == "train")
    backend = Trained(given, {flipped.sha256: other, train.sha256: other}, ["animal", "fish"])
    out = _session(labelling_repo, backend).suggestions()

    assert out["available"]
    assert out["model"]["address"] == "model.critters" and out["model"]["version"] == 2
    unlabelled = {im.sha256 for im in images if im.path in UNLABELLED}
    assert set(backend.scored) == {im.sha256 for im in held} | unlabelled  # never train images
    assert [(e["sha256"], e["suggested"]) for e in out["mislabelled"]] == [(flipped.sha256, other)]
    assert out["mislabelled"][0]["score"] == 0.8
    assert out["predicted"][flipped.sha256] == {"label": other, "confidence": 0.9}
    assert train.sha256 in out["predicted"]  # the probe's, out of fold


def test_labels_the_version_never_learnt_leave_the_probe_in_charge(labelling_repo: Path) -> None:
    images = _session(labelling_repo, None).review.images
    given = {im.sha256: im.labels[0] for im in images if im.labels}
    out = _session(labelling_repo, Trained(given, {}, ["fish"])).suggestions()
    assert out["available"] and out["model"] is None
    assert "trained without the label(s) animal" in out["model_why"]
