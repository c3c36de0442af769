"""The card phase: what a trained version records about itself, beside its models.

- ``evaluation.json``: the full evaluation (curves, per-label metrics, worst mistakes), from which
  a new threshold rule or gate is applied later without retraining;
- ``report.html``: the same for people, with thumbnails of the worst mistakes;
- ``model_card.json``: how the version was made (data, recipe, calibration, fine-tuning, budget,
  timings), what it scored at its threshold, its gate, and the sha256 of its files.

Importing this module is cheap: the report renderer (numpy) and Pillow are imported when used.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.backends.layout import EVALUATION_JSON, REPORT_HTML
from edgeops.backends.local.ml.hparams import TRAINER_VERSION
from edgeops.evaluation import crossval

if TYPE_CHECKING:
    from edgeops.backends.local.ml.backbone import Backbone
    from edgeops.backends.local.ml.calibrate import Calibration
    from edgeops.backends.local.ml.evaluate import Evaluated
    from edgeops.backends.local.ml.finetune import FineTuneOutcome
    from edgeops.backends.local.ml.head import HeadResult
    from edgeops.backends.local.ml.weights import ClassWeights
    from edgeops.config.model import ModelSpec
    from edgeops.evaluation.compare import Comparison
    from edgeops.evaluation.metrics import Evaluation

THUMBNAILS = 12  # worst mistakes shown with a thumbnail in report.html


def thumbnail(path: Path) -> str:
    """A small JPEG data URI of an image (for reports: the worst mistakes)."""
    from edgeops.runtime.images import load_rgb

    image = load_rgb(path)
    image.thumbnail((96, 96))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnail_ids(evaluation: Evaluation, comparison: Comparison | None = None) -> list[str]:
    """The test images report.html shows with a thumbnail, each once: the worst mistakes and,
    against a served version, the images fixed and broken."""
    from edgeops.evaluation.report import MAX_CHANGED

    ids = [m.image_id for m in evaluation.mistakes[:THUMBNAILS]]
    if comparison is not None:
        ids += [*comparison.fixed[:MAX_CHANGED], *comparison.broken[:MAX_CHANGED]]
    return list(dict.fromkeys(ids))


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_evaluation(
    out_dir: Path, evaluated: Evaluated, *, title: str, images: Mapping[str, Path]
) -> None:
    """:data:`EVALUATION_JSON` and :data:`REPORT_HTML`; ``images``: test image id -> file."""
    from edgeops.evaluation import render_html

    evaluation = evaluated.evaluation
    write_json(out_dir / EVALUATION_JSON, evaluation.to_dict())
    thumbs = {i: thumbnail(images[i]) for i in thumbnail_ids(evaluation)}
    (out_dir / REPORT_HTML).write_text(
        render_html(
            evaluation,
            title=title,
            threshold=evaluated.choice.threshold,
            gate=evaluated.gate,
            thumbnails=thumbs,
        )
    )


def model_card(
    *,
    spec: ModelSpec,
    version: int,
    dataset_fingerprint: str,
    backbone: Backbone,
    multi_label: bool,
    labels: Sequence[str],
    examples: Mapping[str, int],
    head: HeadResult,
    images_used: Mapping[str, int] | None = None,
    calibration: Calibration,
    weighing: ClassWeights,
    fine: FineTuneOutcome,
    evaluated: Evaluated,
    stop_reason: str,
    notes: Sequence[str],
    cost_node_hours: float,
    timings: Mapping[str, float],
    sha256: Mapping[str, str],
) -> dict[str, Any]:
    """The content of :data:`MODEL_CARD`; ``examples``: images per split; ``images_used``: what
    training used of them (fewer when the budget ended feature extraction)."""
    opts = spec.training
    evaluation, choice = evaluated.evaluation, evaluated.choice
    return {
        "name": spec.name,
        "version": version,
        "trainer_version": TRAINER_VERSION,
        "dataset_fingerprint": dataset_fingerprint,
        "backbone": backbone.name,
        "input_size": backbone.image_size,
        "optimize_for": spec.optimize_for,
        "multi_label": multi_label,
        "labels": list(labels),
        "normalization": {"mean": 127.0, "std": 128.0},
        "training": {
            "seed": opts.seed,
            "augment": opts.augment,
            "label_smoothing": opts.label_smoothing,
            "fine_tune": opts.fine_tune,
            "class_weights": weighing.to_dict(opts.class_weights),
            "fine_tune_applied": fine.applied,
            "fine_tune_reason": fine.reason,
            "fine_tune_details": fine.details,
            "epochs": head.epochs,
            "best_epoch": head.best_epoch,
            "best_val_loss": head.best_val_loss,
            "calibration": calibration.to_dict(),
            "examples": dict(examples),
            "images_used": dict(images_used if images_used is not None else examples),
        },
        "budget_node_hours": spec.budget.node_hours,
        "early_stopping": spec.budget.early_stopping,
        "stop_reason": stop_reason,
        "notes": list(notes),
        "cost_node_hours": cost_node_hours,
        "timings_s": dict(timings),
        "threshold": {
            "rule": spec.threshold.describe(),
            "value": choice.threshold,
            "met": choice.met,
            "note": choice.note,
            "per_label": choice.per_label,
        },
        "metrics": {
            "au_prc": evaluation.au_prc,
            "log_loss": evaluation.log_loss,
            "top1_accuracy": evaluation.top1_accuracy,
            **{k: v for k, v in evaluation.overall.at(choice.threshold).items()},
            "int8_float_top1_agreement": evaluated.agreement,
            "test_images": evaluation.n_examples,
        },
        **(
            {"cross_validation": crossval.record(evaluation.cross_validation, choice.threshold)}
            if evaluation.cross_validation is not None
            else {}
        ),
        "gate": evaluated.gate.to_dict(),
        "sha256": dict(sha256),
    }
