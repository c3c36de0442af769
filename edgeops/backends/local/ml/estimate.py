"""How long the local trainer takes: costs measured on the reference machine, and the formulas.

Pure and cheap to import (no numpy, no torch): ``edgeops plan`` shows these estimates, and the
trainer uses them to keep export and evaluation inside the budget and to decide whether
fine-tuning fits in what is left of it (with the top blocks' cost measured on this machine).
Where earlier runs on this machine recorded their throughput (:mod:`.throughput`), the medians
of those replace the reference figures below (:func:`machine_estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeops.backends.local.ml import throughput
from edgeops.backends.local.ml.hparams import HParams

# Measured on the reference machine (2 cores), per optimize_for:
VIEW_MS = {"latency": 9.0, "balanced": 12.0, "accuracy": 17.0}  # backbone, one view, LiteRT
DECODE_MS = 12.0  # one image decoded
CONVERT_S = {"latency": 12.0, "balanced": 14.0, "accuracy": 17.0}  # one litert-torch conversion
INT8_MS = {"latency": 12.0, "balanced": 16.0, "accuracy": 22.0}  # the int8 classifier, one image
# the fine-tuned top blocks, one view, forward + backward in torch eager
UPPER_MS = {"latency": 6.0, "balanced": 7.0, "accuracy": 30.0}  # tuned top, fwd+bwd, one view


@dataclass(frozen=True)
class Estimate:
    seconds: float
    basis: str  # "estimated from 3 earlier runs on this machine" | "no earlier run here: ..."


def machine_estimate(n_images: int, optimize_for: str) -> Estimate:
    """:func:`estimate_seconds` from this machine's recorded runs, else the reference figures."""
    m = throughput.measured(optimize_for)
    return Estimate(estimate_seconds(n_images, optimize_for, measured=m.medians), m.basis)


def estimate_seconds(
    n_images: int,
    optimize_for: str,
    fine_tune: bool | None = None,
    measured: dict[str, float] | None = None,
) -> float:
    """Wall time of ``train_and_export`` on this machine without a warm cache.

    ``fine_tune``: whether to count fine-tuning the top blocks; by default when the family's
    hyperparameters fine-tune (``accuracy``, under ``training.fine_tune: auto``), as its models
    do when the budget allows it. ``measured``: this machine's medians per phase
    (:mod:`.throughput`), each replacing its reference figure.
    """
    m = measured or {}
    if optimize_for not in VIEW_MS:
        raise ValueError(f"unknown optimize_for {optimize_for!r}")
    hp = HParams.for_optimize_for(optimize_for)
    if fine_tune is None:
        fine_tune = hp.fine_tune
    n_train = 0.8 * n_images
    views_per_image = hp.views_per_image(True, int(n_train))  # training.augment's default
    views = n_train * views_per_image + (n_images - n_train)
    if "view_s" in m:
        features = CONVERT_S[optimize_for] + views * m["view_s"]
    else:
        features = (
            CONVERT_S[optimize_for]
            + n_images * DECODE_MS / 1000
            + (views * VIEW_MS[optimize_for] / 1000)
        )
    rows = n_train * views_per_image
    train = rows * m["head_s"] if "head_s" in m else 5.0 + rows * 0.004
    export = m.get("export_s", _reference_export_seconds(optimize_for))
    evaluate = evaluate_seconds(0.1 * n_images, optimize_for, m)
    tune = 0.0
    if fine_tune:
        tune = fine_tune_seconds(
            n_train_views=int(n_train * min(hp.fine_tune_views, views_per_image)),
            n_val=int(0.1 * n_images),
            view_ms=m["view_s"] * 1000 if "view_s" in m else VIEW_MS[optimize_for],
            upper_ms=UPPER_MS[optimize_for],
            convert_s=CONVERT_S[optimize_for],
            epochs=hp.fine_tune_epochs,
        )
    return round(features + train + export + evaluate + tune, 1)


def fine_tune_seconds(
    *,
    n_train_views: int,
    n_val: int,
    view_ms: float,
    upper_ms: float,
    convert_s: float,
    epochs: int,
) -> float:
    """Fine-tuning: convert the lower part, its activations once per view, then the epochs."""
    activations = (n_train_views + n_val) * view_ms / 1000
    per_epoch = (n_train_views * upper_ms + n_val * upper_ms / 3) / 1000
    return convert_s + activations + epochs * per_epoch


QUANTIZE_S = 6.0  # head grafted on the converted backbone, int8 calibration (64 images), metadata
# a fine-tuned backbone calibrates on 200 images (export.REPRESENTATIVE_IMAGES_FINE_TUNED): the
# 136 more at ~60 ms each (Lite1/Lite2 with every tensor kept, 2 cores)
CALIBRATE_FINE_TUNED_S = 8.0


def _reference_export_seconds(optimize_for: str) -> float:
    """The head is grafted on the converted backbone (no conversion), except for a fine-tuned
    backbone (the families that fine-tune), which is converted with its head."""
    if HParams.for_optimize_for(optimize_for).fine_tune:
        return CONVERT_S[optimize_for] + QUANTIZE_S + CALIBRATE_FINE_TUNED_S
    return QUANTIZE_S


def evaluate_seconds(n_test: float, optimize_for: str, measured: dict[str, float]) -> float:
    """The test evaluation of ``n_test`` images: measured per image here, else reference."""
    if "evaluate_s" in measured:  # fixed costs included (measured per image of a run)
        return n_test * measured["evaluate_s"]
    return 2.0 + n_test * (INT8_MS[optimize_for] + VIEW_MS[optimize_for]) / 1000


def export_reserve_seconds(
    optimize_for: str, n_test: int = 0, measured: dict[str, float] | None = None
) -> float:
    """What training leaves of the budget for export and evaluation of
    ``n_test`` images: this machine's measured figures when given, else the reference ones."""
    m = measured or {}
    export = m.get("export_s", _reference_export_seconds(optimize_for))
    return export + evaluate_seconds(n_test, optimize_for, m)
