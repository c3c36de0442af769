"""The review page's suggestions from a trained version of a model on the dataset, once one is
ready (before that, the frozen-backbone probe's alone).

A version learnt from the train split, so it judges only the images it never learnt from:
validation and test images (how much it disagrees with the given label, as the probe's score:
the best other label's probability minus the given one's) and unlabelled ones (its suggested
label). Train images keep the probe's out-of-fold judgement, so no image ever judges itself.
When the dataset has labels the version does not know (added since it was trained), the probe
judges every image and the page says why. A version's scores of an image never change, so they
are computed once per session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeops.backends.base import VersionScores
from edgeops.config.model import DatasetSpec
from edgeops.health.near import HELD_OUT
from edgeops.health.report import reader
from edgeops.state import LiveVersion


def trained_version(backend: Any, models: Sequence[str]) -> tuple[str, LiveVersion] | None:
    """The newest ready version of the first of ``models`` (addresses of the dataset's models,
    in config order) that has one; None without one, or on a backend that cannot run it here."""
    runs_models = isinstance(backend, VersionScores)
    if not models or not runs_models:
        return None
    live = backend.read()
    for address in models:
        lm = live.models.get(address)
        version = lm.latest() if lm is not None else None
        if version is not None:
            return address, version
    return None


class VersionOpinion:
    """A ready version's scores of a dataset's images, by sha256, computed when first asked."""

    def __init__(self, backend: Any, address: str, version: LiveVersion) -> None:
        self.backend = backend
        self.address = address
        self.version = version
        self.labels: list[str] = []
        self.scores: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return f"{self.address} v{self.version.version}"

    def score(self, spec: DatasetSpec, images: dict[str, Any]) -> None:
        """Scores ``images`` (sha256 -> ReviewImage) not scored yet."""
        from edgeops.datasets.readback import source_reader

        todo = [s for s in images if s not in self.scores and _readable(images[s].file)]
        if not todo and self.labels:
            return
        with source_reader(spec) as read:
            items = [(s, reader(read, images[s].file)) for s in todo]
            labels, x = self.backend.version_scores(self.address, self.version.version, items)
        self.labels = list(labels)
        self.scores.update(zip(todo, x, strict=True))


def _readable(locator: str) -> bool:
    return bool(locator) and not locator.startswith("gs://")


def with_version(
    out: dict[str, Any], review: Any, spec: DatasetSpec, opinion: VersionOpinion
) -> dict[str, Any]:
    """``out`` (the probe's suggestions, as ``ReviewSession.suggestions`` makes them) with the
    version's opinion of every image it never trained on."""
    info: dict[str, Any] = {}
    for im in review.images:
        if not im.excluded:
            info.setdefault(im.sha256, im)
    unseen = {s: im for s, im in info.items() if im.split in HELD_OUT or not im.labels}
    opinion.score(spec, unseen)
    labels = opinion.labels
    unknown = sorted({label for im in info.values() for label in im.labels} - set(labels))
    if unknown:
        why = (
            f"{opinion.name} was trained without the label(s) {', '.join(unknown)}: the probe "
            "judges every image until the model is retrained"
        )
        return {**out, "model": None, "model_why": why}
    predicted = dict(out.get("predicted", {}))
    mislabelled = [e for e in out.get("mislabelled", []) if e["sha256"] not in unseen]
    for sha, row in sorted(opinion.scores.items()):
        im = unseen.get(sha)
        if im is None:
            continue
        best = int(row.argmax())
        predicted[sha] = {"label": labels[best], "confidence": round(float(row[best]), 4)}
        if not im.labels or spec.multi_label:
            continue
        given = labels.index(im.labels[0])
        others = [(float(p), k) for k, p in enumerate(row) if k != given]
        p_other, other = max(others)
        score = p_other - float(row[given])
        if score > 0:
            entry = {"sha256": sha, "suggested": labels[other], "score": round(score, 4)}
            mislabelled.append(entry)
    mislabelled.sort(key=lambda e: (-e["score"], e["sha256"]))
    model = {
        "address": opinion.address,
        "version": opinion.version.version,
        "judges": "validation, test and unlabelled images (the probe judges train images)",
    }
    return {**out, "predicted": predicted, "mislabelled": mislabelled, "model": model}
