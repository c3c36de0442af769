"""Out-of-fold label checks on backbone features (confident learning, Northcutt et al. 2021).

A small multinomial logistic regression (softmax, L2, full-batch gradient descent with Adam, in
numpy) is fitted on the features of the labelled images of all folds but one and predicts the
held-out fold, so no image ever judges its own label. An image is a suspected label error when
the out-of-fold probability of another label beats the given one; ``score`` is that margin
(best other label's probability minus the given label's), so the most suspicious come first.
Folds come from each image's content hash (stable between runs). The same probe fitted on every
labelled image suggests labels for the unlabelled ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FOLDS = 5
STEPS = 300
LEARNING_RATE = 0.05
L2 = 1e-3


@dataclass(frozen=True)
class Probe:
    weight: np.ndarray  # (d, k)
    bias: np.ndarray  # (k,)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, k) probabilities."""
        return _softmax(x @ self.weight + self.bias)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit(x: np.ndarray, y: np.ndarray, k: int, *, steps: int = STEPS) -> Probe:
    """Softmax regression of labels ``y`` (ints < k) on rows ``x``; classes are weighted by
    inverse frequency so a large label does not drown a small one."""
    n, d = x.shape
    onehot = np.zeros((n, k), np.float32)
    onehot[np.arange(n), y] = 1.0
    counts = onehot.sum(axis=0)
    cw = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 0.0).astype(np.float32)
    sw = cw[y][:, None] / n
    w = np.zeros((d, k), np.float32)
    b = np.zeros(k, np.float32)
    mw, vw = np.zeros_like(w), np.zeros_like(w)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        p = _softmax(x @ w + b)
        g = (p - onehot) * sw
        gw = x.T @ g + L2 * w
        gb = g.sum(axis=0)
        mw = beta1 * mw + (1 - beta1) * gw
        vw = beta2 * vw + (1 - beta2) * gw * gw
        mb = beta1 * mb + (1 - beta1) * gb
        vb = beta2 * vb + (1 - beta2) * gb * gb
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        w -= LEARNING_RATE * (mw / c1) / (np.sqrt(vw / c2) + eps)
        b -= LEARNING_RATE * (mb / c1) / (np.sqrt(vb / c2) + eps)
    return Probe(w, b)


def fold_of(sha256: str, folds: int = FOLDS) -> int:
    return int(sha256[8:16], 16) % folds  # other digits than the split's (sha256[:8])


def out_of_fold(
    x: np.ndarray, y: np.ndarray, k: int, shas: Sequence[str], *, folds: int = FOLDS
) -> np.ndarray:
    """(n, k) probabilities, each row predicted by a probe that never saw that image."""
    fold = np.array([fold_of(s, folds) for s in shas])
    out = np.zeros((len(y), k), np.float32)
    for f in range(folds):
        held = fold == f
        if not held.any():
            continue
        if held.all():  # too few images for folds: no honest prediction
            out[held] = 1.0 / k
            continue
        out[held] = fit(x[~held], y[~held], k).predict(x[held])
    return out


@dataclass(frozen=True)
class Judgement:
    index: int  # row in the input
    given: int
    suggested: int  # the most probable other label
    score: float  # p(suggested) - p(given): > 0 means the probe prefers another label
    p_given: float
    p_suggested: float


def judge(probs: np.ndarray, y: np.ndarray) -> list[Judgement]:
    """Every labelled image, most suspicious first (ties by row)."""
    out: list[Judgement] = []
    for i, (row, given) in enumerate(zip(probs, y, strict=True)):
        other = row.copy()
        other[given] = -1.0
        suggested = int(other.argmax())
        p_given, p_sugg = float(row[given]), float(row[suggested])
        out.append(Judgement(i, int(given), suggested, p_sugg - p_given, p_given, p_sugg))
    out.sort(key=lambda j: (-j.score, j.index))
    return out


def check_labels(
    x: np.ndarray, given: Sequence[str], shas: Sequence[str]
) -> tuple[tuple[str, ...], np.ndarray, list[Judgement]]:
    """For rows ``x`` with one given label each: the labels (sorted), the out-of-fold
    probabilities (n, k) and the judgement of every row, most suspicious first; nothing is
    judged (no probabilities, no judgements) with fewer than 2 labels."""
    labels = tuple(sorted(set(given)))
    if len(labels) < 2:
        return labels, np.zeros((len(given), len(labels)), np.float32), []
    index = {label: k for k, label in enumerate(labels)}
    y = np.array([index[g] for g in given])
    probs = out_of_fold(x, y, len(labels), shas)
    return labels, probs, judge(probs, y)
