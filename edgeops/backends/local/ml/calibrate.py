"""Calibration: the head's logits divided by a temperature fitted on held-out predictions.

Label smoothing (and early stopping) leave the head under-confident, so its logits are divided by
a temperature fitted on held-out predictions (:func:`calibration_logits`, :func:`fit_temperature`)
and the temperature is folded into the weights, so the exported model outputs calibrated
probabilities. The held-out predictions are the validation split's plus out-of-fold predictions
on the train split (k-fold heads trained like the final one): a validation split of a few dozen
images is too small, and too easily dominated by one or two doubtful labels, to fit even one
parameter well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeops.backends.local.ml.crossval import out_of_fold_logits
from edgeops.backends.local.ml.features import TrainingData
from edgeops.backends.local.ml.head import HeadResult, logits
from edgeops.backends.local.ml.hparams import HParams


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    held_out: tuple[str, ...] = ()  # where the held-out predictions came from, with their counts

    def fold(self, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A head's weights with the temperature folded in: it outputs calibrated scores."""
        t = self.temperature
        return (weight / t).astype(np.float32), (bias / t).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """As the model card records it."""
        if not self.held_out:
            return {
                "temperature": self.temperature,
                "held_out": [],
                "note": "no held-out predictions",
            }
        return {
            "temperature": self.temperature,
            "held_out": list(self.held_out),
            "method": "temperature scaling",
        }


def calibrate(
    head: HeadResult,
    data: TrainingData,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    deadline: float,
    hp: HParams,
) -> Calibration:
    """The calibrate phase: the temperature of the head's logits on validation + out-of-fold
    train predictions (the out-of-fold heads only while the budget's deadline allows, and only
    when the validation split has fewer than ``hp.calibration_validation_enough`` images: one
    temperature is well determined by that many held-out predictions, and the k heads cost
    about k times the head's training)."""
    zs, ys, sources = [], [], []
    if data.x_val is not None and data.y_val is not None and len(data.x_val):
        zs.append(logits(head.weight, head.bias, data.x_val))
        ys.append(data.y_val)
        sources.append(f"validation ({len(data.x_val)})")
    enough = data.x_val is not None and len(data.x_val) >= hp.calibration_validation_enough
    if time.monotonic() < deadline and not enough:
        oof = calibration_logits(
            data.per_image,
            data.y_per_image,
            multi_label=multi_label,
            seed=seed,
            label_smoothing=label_smoothing,
            epochs=head.best_epoch,
            hp=hp,
        )
        if oof is not None:
            zs.append(oof)
            ys.append(data.y_per_image)
            sources.append(f"train out-of-fold ({len(oof)})")
    if not zs:
        return Calibration()
    temperature = fit_temperature(np.concatenate(zs), np.concatenate(ys), multi_label)
    return Calibration(float(temperature), tuple(sources))


MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def calibration_logits(
    train_views: list[np.ndarray],
    y_train: np.ndarray,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    epochs: int,
    hp: HParams | None = None,
) -> np.ndarray | None:
    """Out-of-fold logits of the train images' first (plain) view, or None if too few images.

    ``train_views[i]`` holds the feature rows of train image i (its augmented views, plain view
    first), ``y_train[i]`` its 0/1 label row. Each fold's head is trained like the final head,
    for the final head's best number of epochs, on the other folds' images (all their views);
    ``hp.calibration_folds`` folds (``hp``: the defaults when None).
    """
    hp = hp or HParams()
    folds = hp.calibration_folds
    n = len(train_views)
    if n < 2 * folds:
        return None
    fold = np.random.default_rng(seed).permutation(n) % folds
    return out_of_fold_logits(
        train_views,
        y_train,
        fold,
        multi_label=multi_label,
        seed=seed,
        label_smoothing=label_smoothing,
        epochs=epochs,
        hp=hp,
    )


def _nll(z: np.ndarray, y: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        # mean binary cross-entropy, stable: log(1 + e^z) - y z
        return float(np.mean(np.logaddexp(0.0, z) - y * z))
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(np.mean(-(y * logp).sum(1) / np.maximum(y.sum(1), 1)))


def fit_temperature(z: np.ndarray, y: np.ndarray, multi_label: bool) -> float:
    """The temperature T minimizing the log loss of ``z / T`` (``y``: 0/1 rows).

    A golden-section search over log T (the loss is unimodal in it), within
    [MIN_TEMPERATURE, MAX_TEMPERATURE]; deterministic, numpy only.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(z) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return _nll(z / np.exp(log_t), y, multi_label)

    lo, hi = np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    t = float(np.exp((lo + hi) / 2))
    # keep T = 1 unless the fitted one is really better (flat losses, e.g. a perfect split)
    return round(t, 4) if loss(np.log(t)) < loss(0.0) - 1e-9 else 1.0
