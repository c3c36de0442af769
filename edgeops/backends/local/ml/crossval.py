"""K-fold cross-validation of the head recipe on cached features (small test splits).

Where a dataset's test split is small (:data:`~edgeops.evaluation.crossval.MIN_TEST_IMAGES`),
its intervals are wide. Train+validation hold most of the images and their backbone features
are already computed (and cached), so the head recipe is cross-validated on them: stratified
folds (by each image's label set, seeded), each fold's head trained like the final one (all
views of the other folds' images, for the final head's best number of epochs), the held-out
images' plain view scored, the logits divided by the version's calibration temperature. The
out-of-fold scores are evaluated like a test split (:func:`~edgeops.evaluation.evaluate_scores`:
Wilson intervals for proportions, bootstrap for AuPRC), labelled as what they are: the head on
float features, not the exported int8 file. The temperature was fitted on predictions of these
same images, which flatters the log loss a little; the ranking metrics do not depend on it
much (top-1 accuracy not at all).

Also :func:`out_of_fold_logits`, the loop calibration's out-of-fold predictions share.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from edgeops.backends.local.ml.features import TrainingData
from edgeops.backends.local.ml.head import logits, train_head
from edgeops.backends.local.ml.hparams import HParams
from edgeops.evaluation import crossval

if TYPE_CHECKING:
    from edgeops.evaluation import Evaluation


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The fold (0..k-1) of each row of the 0/1 label table ``y``: the images of each label set
    (one label for single-label data) are shuffled (seeded) and dealt round-robin, continuing
    where the previous label set stopped, so every fold gets a near-equal share of each label
    set and of all images. Deterministic for the same ``y``, ``k`` and ``seed``."""
    rng = np.random.default_rng(seed)
    keys = [tuple(np.nonzero(row)[0]) for row in np.asarray(y)]
    fold = np.zeros(len(keys), dtype=np.int64)
    dealt = 0
    for key in sorted(set(keys)):
        members = np.array([i for i, other in enumerate(keys) if other == key])
        members = members[rng.permutation(len(members))]
        fold[members] = (dealt + np.arange(len(members))) % k
        dealt += len(members)
    return fold


def out_of_fold_logits(
    views: list[np.ndarray],
    y: np.ndarray,
    fold: np.ndarray,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    epochs: int,
    hp: HParams,
) -> np.ndarray:
    """Logits of each image's first (plain) view from a head trained without early stopping,
    for ``epochs`` epochs, on every view of the images of the other folds (fold ``f``'s head
    is seeded ``seed + 1 + f``). ``views[i]``: the feature rows of image i, plain view first;
    ``y[i]``: its 0/1 label row; ``fold[i]``: its fold."""
    counts = np.array([len(v) for v in views])
    out = np.zeros((len(views), y.shape[1]), dtype=np.float64)
    for f in range(int(fold.max()) + 1):
        fit = np.nonzero(fold != f)[0]
        held = np.nonzero(fold == f)[0]
        if len(held) == 0:
            continue
        head = train_head(
            np.concatenate([views[i] for i in fit]),
            np.repeat(y[fit], counts[fit], axis=0),
            None,
            None,
            multi_label=multi_label,
            seed=seed + 1 + f,
            label_smoothing=label_smoothing,
            early_stopping=False,
            deadline=float("inf"),
            max_epochs=max(epochs, 1),
            hp=hp,
        )
        plain = np.stack([views[i][0] for i in held])
        out[held] = logits(head.weight, head.bias, plain)
    return out


def probabilities(z: np.ndarray, temperature: float, multi_label: bool) -> np.ndarray:
    """What the exported model's last layer makes of logits ``z`` / ``temperature``."""
    z = np.asarray(z, dtype=np.float64) / temperature
    if multi_label:
        return np.asarray(1.0 / (1.0 + np.exp(-z)))
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(1, keepdims=True))


def cross_validate(
    views: list[np.ndarray],
    y: np.ndarray,
    labels: Sequence[str],
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    epochs: int,
    temperature: float,
    hp: HParams | None = None,
    image_ids: Sequence[str] | None = None,
    k: int = crossval.FOLDS,
) -> Evaluation | None:
    """The k-fold cross-validated evaluation of the head recipe on these images (``views``,
    ``y`` as :func:`out_of_fold_logits` takes them), or None with fewer than 2 images per fold."""
    from edgeops.evaluation import evaluate_scores

    if len(views) < 2 * k:
        return None
    y = np.asarray(y, dtype=np.float32)
    fold = stratified_folds(y, k, seed)
    z = out_of_fold_logits(
        views,
        y,
        fold,
        multi_label=multi_label,
        seed=seed,
        label_smoothing=label_smoothing,
        epochs=epochs,
        hp=hp or HParams(),
    )
    return evaluate_scores(
        probabilities(z, temperature, multi_label),
        [tuple(labels[int(j)] for j in np.nonzero(row)[0]) for row in y],
        labels,
        multi_label=multi_label,
        image_ids=image_ids,
        extra=crossval.extra(k),
    )


def cross_validate_training_data(
    data: TrainingData,
    labels: Sequence[str],
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    epochs: int,
    temperature: float,
    hp: HParams,
    deadline: float,
) -> Evaluation | None:
    """The cross-validate phase of the trainer: :func:`cross_validate` on train (every view)
    + validation (the plain view) of ``data``; None when the budget's deadline has passed."""
    if time.monotonic() >= deadline:
        return None
    views = list(data.per_image)
    ys = [data.y_per_image]
    if data.x_val is not None and data.y_val is not None:
        views += [row[None, :] for row in data.x_val]
        ys.append(data.y_val)
    jobs = (*data.train, *data.validation)
    return cross_validate(
        views,
        np.concatenate(ys),
        labels,
        multi_label=multi_label,
        seed=seed,
        label_smoothing=label_smoothing,
        epochs=epochs,
        temperature=temperature,
        hp=hp,
        image_ids=[path.name for path, _, _ in jobs],
    )
