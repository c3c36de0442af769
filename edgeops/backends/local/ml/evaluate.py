"""The evaluate phase: the exported int8 model, run by LiteRT on the test split, then gated.

What is evaluated is what ships: the int8 ``.tflite`` (uint8 pixels in, as an app sends them),
not the torch head. The float32 model runs beside it to measure how often the two agree on the
top label (``int8_float_top1_agreement``), the cost of quantization.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeops.backends.layout import MODEL_FLOAT, MODEL_INT8
from edgeops.backends.local.ml.backbone import Backbone
from edgeops.evaluation import (
    Evaluation,
    GateResult,
    ThresholdChoice,
    evaluate_scores,
    judge,
)
from edgeops.runtime.images import load_rgb, to_input
from edgeops.runtime.litert import LiteRTRunner

if TYPE_CHECKING:
    from edgeops.backends.local.ml.trainer import TrainingExample
    from edgeops.config.model import ModelSpec
    from edgeops.progress import Reporter


@dataclass(frozen=True)
class Evaluated:
    evaluation: Evaluation
    choice: ThresholdChoice  # the spec's threshold rule applied
    gate: GateResult  # the spec's gate at that threshold
    agreement: float  # int8 vs float32 top-1 agreement, rounded to 6 places


def evaluate_on_test(
    version_dir: Path,
    test: Sequence[TrainingExample],
    labels: Sequence[str],
    backbone: Backbone,
    spec: ModelSpec,
    *,
    multi_label: bool,
    reporter: Reporter,
    cross_validation: Evaluation | None = None,
) -> Evaluated:
    """Scores of the version's :data:`MODEL_INT8` on ``test``, threshold and gate by ``spec``
    (with ``cross_validation``, the k-fold cross-validated evaluation kept beside it, which the
    gate reads when ``spec.gate.evaluate_on`` says so)."""
    from edgeops.backends.local.ml.features import prefetched

    int8_run = LiteRTRunner(version_dir / MODEL_INT8)
    float_run = LiteRTRunner(version_dir / MODEL_FLOAT)
    scores, float_top = [], []

    def decode(e: TrainingExample) -> np.ndarray:
        return to_input(load_rgb(e.image_path), backbone.image_size)

    with reporter.task("evaluating int8 model on the test split", len(test)) as task:
        for pixels in prefetched(decode, test):  # decoding overlaps with the models
            scores.append(int8_run.scores(pixels))
            float_top.append(int(np.argmax(float_run.scores(pixels))))
            task.advance()
    score_arr = np.stack(scores)
    agreement = round(float(np.mean(score_arr.argmax(1) == np.asarray(float_top))), 6)
    evaluation = evaluate_scores(
        score_arr,
        [e.labels for e in test],
        labels,
        multi_label=multi_label,
        image_ids=[e.image_id or e.image_path.name for e in test],
        extra={
            "model": MODEL_INT8,
            "runtime": "LiteRT interpreter",
            "int8_float_top1_agreement": agreement,
        },
    )
    evaluation = replace(evaluation, cross_validation=cross_validation)
    judged = judge(evaluation, spec)
    return Evaluated(evaluation, judged.choice, judged.gate, agreement)
