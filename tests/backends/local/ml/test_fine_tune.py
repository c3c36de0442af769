"""Slow: fine-tuning the top blocks, forced on Lite0 with a small subset and one epoch."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from edgeops.config.model import BudgetSpec, TrainingOptions

pytestmark = pytest.mark.slow


def _subset(objects, per_label: dict[str, int]) -> tuple:
    taken: dict[tuple[str, str], int] = {}
    out = []
    for e in objects.examples:
        key = (e.labels[0], e.split)
        if taken.get(key, 0) < per_label[e.split]:
            taken[key] = taken.get(key, 0) + 1
            out.append(e)
    return tuple(out)


def test_forced_fine_tune_exports_the_tuned_network(objects, cache_dir, spec, tmp_path) -> None:
    from edgeops.backends.local.ml import train_and_export
    from edgeops.backends.local.ml.hparams import HParams
    from edgeops.progress import NullReporter

    examples = _subset(objects, {"train": 4, "validation": 2, "test": 2})
    # no early stopping: the one epoch is kept whatever the validation loss, so it is applied
    spec = dataclasses.replace(spec, budget=BudgetSpec(node_hours=0.05, early_stopping=False))
    outcome = train_and_export(
        examples,
        objects.labels,
        False,
        spec,
        tmp_path / "v1",
        version=1,
        dataset_fingerprint="sha256:ft",
        reporter=NullReporter(),
        cache_dir=cache_dir,
        hparams=HParams(fine_tune=True, fine_tune_epochs=1),  # forced on latency
    )
    assert outcome.fine_tune_applied
    assert "fine_tune" in outcome.timings
    assert any(n.startswith("fine-tuning applied: validation loss") for n in outcome.notes)
    card = json.loads((outcome.out_dir / "model_card.json").read_text())
    training = card["training"]
    assert training["fine_tune_applied"] is True
    assert training["fine_tune_reason"].startswith("validation loss")
    details = training["fine_tune_details"]
    assert details["epochs"] == 1 and details["best_epoch"] == 1 and details["blocks"] == 2
    assert details["measured_upper_ms_per_view"] > 0
    assert card["notes"] == list(outcome.notes)
    assert outcome.evaluation.top1_accuracy > 1 / 6
    assert outcome.evaluation.extra["int8_float_top1_agreement"] >= 0.75


def test_fine_tune_is_skipped_with_a_reason(objects, spec) -> None:
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.features import TrainingData
    from edgeops.backends.local.ml.finetune import maybe_fine_tune
    from edgeops.backends.local.ml.hparams import HParams
    from edgeops.progress import NullReporter

    by_split = {s: [e for e in objects.examples if e.split == s] for s in ("train", "validation")}
    y = np.zeros((len(by_split["validation"]), len(objects.labels)), np.float32)
    bb = backbone_for("latency")
    data = TrainingData(  # images only: it is skipped before features or labels are read
        train=tuple((e.image_path, "", ("plain",)) for e in by_split["train"]),
        validation=tuple((e.image_path, "", ("plain",)) for e in by_split["validation"]),
        per_image=[],
        y_per_image=np.zeros((0, len(objects.labels)), np.float32),
        x_val=None,
        y_val=y,
    )

    def run(spec, force: bool, seconds: float):
        hp = HParams(fine_tune=True) if force else HParams.for_optimize_for(spec.optimize_for)
        return maybe_fine_tune(
            spec,
            hp,
            bb,
            None,
            data,
            multi_label=False,
            deadline=time.monotonic() + seconds,
            reporter=NullReporter(),
        )

    never = dataclasses.replace(spec, training=TrainingOptions(fine_tune="never"))
    skipped = run(never, True, 3600)
    assert not skipped.applied and skipped.reason == "training.fine_tune is never"
    skipped = run(spec, False, 3600)  # latency
    assert not skipped.applied and "optimize_for: balanced, accuracy" in skipped.reason
    skipped = run(spec, True, 1.0)  # measured cost, then too little budget left
    assert not skipped.applied and "exceeds" in skipped.reason
    assert skipped.details["estimate_s"] > skipped.details["remaining_budget_s"]
    assert skipped.result is None
