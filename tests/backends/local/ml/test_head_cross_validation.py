"""Fast: k-fold cross-validation of the head on hand-made features (no backbone, no files)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeops.backends.local.ml.calibrate import calibration_logits
from edgeops.backends.local.ml.crossval import (
    cross_validate,
    out_of_fold_logits,
    probabilities,
    stratified_folds,
)
from edgeops.backends.local.ml.hparams import HParams
from edgeops.evaluation import crossval

LABELS = ("cat", "dog", "fox")


def _features(n: int, seed: int = 0, noise: float = 0.3) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` images of three well-separated classes, two views each (plain first)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(3, 16))
    classes = np.arange(n) % 3
    views = [
        np.stack([centers[c] + rng.normal(0, noise, 16) for _ in range(2)]).astype(np.float32)
        for c in classes
    ]
    return views, np.eye(3, dtype=np.float32)[classes]


def test_stratified_folds_deal_each_label_evenly_and_are_seeded() -> None:
    y = np.eye(3)[[0] * 20 + [1] * 10 + [2] * 7]
    fold = stratified_folds(y, 5, seed=0)
    assert fold.shape == (37,) and set(fold) == {0, 1, 2, 3, 4}
    for label in range(3):
        per_fold = np.bincount(fold[y[:, label] == 1], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (label, per_fold)
    sizes = np.bincount(fold, minlength=5)
    assert sizes.max() - sizes.min() <= 1  # dealt on where the previous label stopped
    assert np.array_equal(fold, stratified_folds(y, 5, seed=0))
    assert not np.array_equal(fold, stratified_folds(y, 5, seed=1))


def test_stratified_folds_group_multi_label_rows_by_label_set() -> None:
    y = np.array([[1, 0], [1, 1], [0, 1]] * 10)
    fold = stratified_folds(y, 5, seed=3)
    for key in ((1, 0), (1, 1), (0, 1)):
        rows = np.all(y == key, axis=1)
        assert sorted(np.bincount(fold[rows], minlength=5)) == [2, 2, 2, 2, 2]


def test_out_of_fold_logits_never_see_their_own_labels() -> None:
    views, y = _features(30)
    fold = stratified_folds(y, 5, seed=0)
    kw = dict(multi_label=False, seed=0, label_smoothing=0.1, epochs=50, hp=HParams())
    a = out_of_fold_logits(views, y, fold, **kw)
    flipped = y.copy()
    held = fold == 2
    flipped[held] = np.roll(y[held], 1, axis=1)  # relabel fold 2's images
    b = out_of_fold_logits(views, flipped, fold, **kw)
    assert np.array_equal(a[held], b[held])  # their scores come from heads trained without them
    assert not np.array_equal(a[~held], b[~held])


def test_calibration_keeps_its_folds_through_the_shared_loop() -> None:
    views, y = _features(30, seed=2)
    kw = dict(multi_label=False, seed=0, label_smoothing=0.1, epochs=40)
    fold = np.random.default_rng(0).permutation(30) % HParams().calibration_folds
    expected = out_of_fold_logits(views, y, fold, hp=HParams(), **kw)
    assert np.array_equal(calibration_logits(views, y, **kw), expected)


def test_probabilities_divide_by_the_temperature() -> None:
    z = np.array([[2.0, 0.0, -2.0]])
    p1, p2 = probabilities(z, 1.0, False), probabilities(z, 2.0, False)
    assert p1.sum() == pytest.approx(1.0) and p2.sum() == pytest.approx(1.0)
    assert p2[0, 0] < p1[0, 0]  # a higher temperature flattens
    assert probabilities(np.zeros((1, 2)), 1.0, True) == pytest.approx(0.5)


def test_cross_validate_is_an_evaluation_with_intervals_labelled_as_such() -> None:
    views, y = _features(40)
    ids = [f"img{i}" for i in range(40)]
    kw = dict(multi_label=False, seed=0, label_smoothing=0.1, epochs=80, temperature=1.0)
    cv = cross_validate(views, y, LABELS, image_ids=ids, **kw)
    assert cv is not None and cv.n_examples == 40 and cv.labels == LABELS
    assert cv.extra["method"] == "k-fold cross-validation" and cv.extra["k"] == 5
    assert cv.extra["splits"] == ["train", "validation"]
    assert cv.top1_accuracy > 0.9  # separable classes
    intervals = cv.intervals_at(0.5)
    assert intervals["precision"].method == "wilson" and intervals["au_prc"].method == "bootstrap"
    assert intervals["top1_accuracy"].n == 40
    assert "k-fold cross-validation of the head on float features, train+validation, k=5, n=40" in (
        crossval.describe_evaluation(cv)
    )
    again = cross_validate(views, y, LABELS, image_ids=ids, **kw)
    assert again == cv  # seeded: the same folds, heads and bootstrap
    assert cross_validate(views[:9], y[:9], LABELS, **kw) is None  # under 2 images per fold


def test_cross_validate_multi_label() -> None:
    views, y = _features(30, seed=4)
    y = y.copy()
    y[::4, 0] = 1.0  # some images carry two labels
    cv = cross_validate(
        views,
        y,
        LABELS,
        multi_label=True,
        seed=0,
        label_smoothing=0.0,
        epochs=60,
        temperature=1.5,
    )
    assert cv is not None and cv.multi_label and cv.n_examples == 30
    assert 0.0 <= cv.au_prc <= 1.0
