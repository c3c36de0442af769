"""Fast: temperature scaling of the head (no backbone, no conversion)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeops.backends.local.ml.calibrate import calibration_logits, fit_temperature


def _sample(t_true: float, n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Logits z and labels drawn from softmax(z / t_true)."""
    z = rng.normal(0, 3, size=(n, k))
    p = np.exp(z / t_true)
    p /= p.sum(1, keepdims=True)
    y = np.zeros((n, k))
    y[np.arange(n), [rng.choice(k, p=row) for row in p]] = 1
    return z, y


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_true_one(t_true: float) -> None:
    z, y = _sample(t_true, 4000, 5, np.random.default_rng(0))
    assert fit_temperature(z, y, multi_label=False) == pytest.approx(t_true, rel=0.1)


def test_fit_temperature_multi_label_and_edge_cases() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=(3000, 3))
    y = (rng.random(z.shape) < 1 / (1 + np.exp(-z / 2.0))).astype(float)
    assert fit_temperature(z, y, multi_label=True) == pytest.approx(2.0, rel=0.1)
    assert fit_temperature(np.zeros((0, 3)), np.zeros((0, 3)), multi_label=False) == 1.0
    # constant logits: every temperature gives the same loss, keep 1
    assert fit_temperature(np.zeros((10, 3)), np.eye(3)[[0] * 10], multi_label=False) == 1.0


def test_calibration_logits_are_out_of_fold_and_deterministic() -> None:
    rng = np.random.default_rng(2)
    centers = rng.normal(0, 3, size=(3, 16))
    labels = np.arange(30) % 3
    views = [
        np.stack([centers[c] + rng.normal(0, 0.3, 16) for _ in range(2)]).astype(np.float32)
        for c in labels
    ]
    y = np.eye(3, dtype=np.float32)[labels]
    kw = dict(multi_label=False, seed=0, label_smoothing=0.1, epochs=300)
    a = calibration_logits(views, y, **kw)
    assert a is not None and a.shape == (30, 3)
    assert np.array_equal(a, calibration_logits(views, y, **kw))
    assert (a.argmax(1) == labels).mean() > 0.8
    assert calibration_logits(views[:9], y[:9], **kw) is None  # fewer than 2 per fold
