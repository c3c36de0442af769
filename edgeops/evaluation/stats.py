"""The bootstrap over test images for classifier metrics (pure numpy, vectorised, seeded).

Percentile intervals from resampling the test images with replacement. The resampling is drawn
once per (n, resamples, seed) as a table of how many times each image is drawn in each resample
(:func:`resample_counts`), and every metric is computed from that table at once (no Python loop
per resample). Two models scored on the same images share the table: the difference of a
metric is computed on the same resampled images (:func:`bootstrap_difference`, a paired
bootstrap), far tighter than two separate intervals when the models agree on most images.
The Wilson interval and the exact McNemar test live in :mod:`edgeops.evaluation.intervals`
(numpy-free) and are re-exported here.

A *weighted metric* is a function ``(scores, truth, weights) -> values``: ``scores`` is the
(images x labels) score table, ``truth`` the same-shaped 0/1 table, ``weights`` a
(resamples x images) table of draw counts; it returns one value per row of ``weights``. With one
row of ones it is the metric on the test split itself. The metrics here follow the conventions
of :mod:`edgeops.evaluation.metrics` exactly (a pair is predicted when ``score >= t`` on the
0.01 threshold grid, micro-averaged over (image, label) pairs; precision with nothing predicted
is 1, recall with nothing to find is 1; average precision handles tied scores as one block), so
an interval is always around the very number edgeops prints. :func:`per_resample` adapts any
plain ``metric(scores, truth) -> float`` (slow: one call per resample).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeops.evaluation.intervals import Interval as Interval
from edgeops.evaluation.intervals import mcnemar_exact as mcnemar_exact
from edgeops.evaluation.intervals import wilson as wilson
from edgeops.evaluation.intervals import wilson_interval as wilson_interval
from edgeops.evaluation.metrics import _EPS, BOOTSTRAP_RESAMPLES, THRESHOLDS, threshold_index

DEFAULT_RESAMPLES = BOOTSTRAP_RESAMPLES
# Bound on the temporary (resamples x pairs) tables of average precision: rows are done in
# chunks so that memory stays around 8 bytes x this many values whatever the test split's size.
_CHUNK_VALUES = 4_000_000

WeightedMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


# ---- the bootstrap ---------------------------------------------------------------------------


def resample_counts(n: int, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """(resamples x n) table: how often each of ``n`` test images is drawn in each resample of
    ``n`` images with replacement. The same (n, resamples, seed) always gives the same table."""
    if n <= 0:
        raise ValueError("cannot resample an empty test split")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n), dtype=np.int64)
    idx += (np.arange(resamples, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=resamples * n).reshape(resamples, n)


def _percentile_interval(value: float, dist: np.ndarray, n: int) -> Interval:
    lo, hi = np.percentile(dist, [2.5, 97.5])
    return Interval(float(value), float(lo), float(hi), int(n), "bootstrap")


def _ones(n: int) -> np.ndarray:
    return np.ones((1, n), dtype=np.int64)


def bootstrap(
    metric: WeightedMetric,
    scores: np.ndarray,
    truth: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> Interval:
    """The metric on the test split and its 95% percentile interval over resampled images.

    ``weights``: a table from :func:`resample_counts` to share between metrics (else drawn
    from ``resamples`` and ``seed``)."""
    s, y = _tables(scores, truth)
    w = resample_counts(len(s), resamples, seed) if weights is None else weights
    value = float(metric(s, y, _ones(len(s)))[0])
    return _percentile_interval(value, metric(s, y, w), len(s))


def bootstrap_difference(
    metric_a: WeightedMetric,
    scores_a: np.ndarray,
    metric_b: WeightedMetric,
    scores_b: np.ndarray,
    truth: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> Interval:
    """``metric_b(scores_b) - metric_a(scores_a)`` and its paired 95% interval: both metrics are
    computed on the same resampled images in every resample. The two metrics may differ (say
    precision, each at its own model's threshold)."""
    sa, y = _tables(scores_a, truth)
    sb, _ = _tables(scores_b, truth)
    if sa.shape != sb.shape:
        raise ValueError(f"scores of shapes {sa.shape} and {sb.shape} are not paired")
    w = resample_counts(len(y), resamples, seed) if weights is None else weights
    one = _ones(len(y))
    value = float(metric_b(sb, y, one)[0] - metric_a(sa, y, one)[0])
    return _percentile_interval(value, metric_b(sb, y, w) - metric_a(sa, y, w), len(y))


def per_resample(metric: Callable[[np.ndarray, np.ndarray], float]) -> WeightedMetric:
    """Any plain ``metric(scores, truth) -> float`` as a weighted metric: it is called once per
    resample on the resampled rows (correct for every metric, but a Python loop)."""

    def weighted(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        rows = np.arange(s.shape[0])
        out = np.empty(len(w))
        for r, counts in enumerate(w):
            idx = np.repeat(rows, counts)
            out[r] = metric(s[idx], y[idx])
        return out

    return weighted


def _tables(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    if s.ndim == 1:
        s, y = s[:, None], y.reshape(-1, 1)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and truth {y.shape} differ in shape")
    if len(s) == 0:
        raise ValueError("cannot resample an empty test split")
    return s, y


# ---- weighted metrics (the conventions of edgeops.evaluation.metrics) ------------------------


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), empty)


def top1_correct(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per image: is its top-scoring label one of its labels (the first on ties, as argmax)."""
    s, y = _tables(scores, truth)
    return y[np.arange(len(s)), s.argmax(1)]


def top1_accuracy() -> WeightedMetric:
    def metric(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        right = top1_correct(s, y).astype(np.float64)
        return _ratio(w @ right, w.sum(1), 0.0)

    return metric


def log_loss(*, multi_label: bool) -> WeightedMetric:
    """Single-label: mean -log p(true label) over (image, true label) pairs; multi-label: mean
    binary cross-entropy over all (image, label) pairs (probabilities clipped to 1e-7)."""

    def metric(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        pc = np.clip(s, _EPS, 1 - _EPS)
        if multi_label:
            loss = -(y * np.log(pc) + (~y) * np.log(1 - pc)).sum(1)
            count = np.full(len(s), s.shape[1], dtype=np.float64)
        else:
            loss = -(y * np.log(pc)).sum(1)
            count = y.sum(1).astype(np.float64)
        return _ratio(w @ loss, w @ count, 0.0)

    return metric


def predicted(s: np.ndarray, threshold: float) -> np.ndarray:
    """Which pairs are predicted at ``threshold``: ``score >= t`` with ``t`` the grid point at
    or below it (as :meth:`Curve.at <edgeops.evaluation.metrics.Curve.at>` reads the curve)."""
    t = THRESHOLDS[threshold_index(threshold)]
    return s >= t - 1e-9


def precision_at(threshold: float) -> WeightedMetric:
    """Micro precision over (image, label) pairs at ``threshold`` (1.0 with nothing predicted)."""

    def metric(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        pred = predicted(s, threshold)
        return _ratio(w @ (pred & y).sum(1), w @ pred.sum(1), 1.0)

    return metric


def recall_at(threshold: float) -> WeightedMetric:
    """Micro recall over (image, label) pairs at ``threshold`` (1.0 with nothing to find)."""

    def metric(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        pred = predicted(s, threshold)
        return _ratio(w @ (pred & y).sum(1), w @ y.sum(1), 1.0)

    return metric


def f1_curve(scores: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Micro F1 at every threshold of :data:`THRESHOLDS` for each row of ``weights``:
    (rows x 101). Per image counts at every threshold, then one matrix product per count."""
    s, y = _tables(scores, truth)
    t = np.asarray(THRESHOLDS)[None, None, :] - 1e-9
    pred = s[:, :, None] >= t  # images x labels x thresholds
    tp_i = (pred & y[:, :, None]).sum(1).astype(np.float32)  # images x thresholds
    pred_i = pred.sum(1).astype(np.float32)
    w = weights.astype(np.float32)  # counts stay exact in float32 up to 2**24
    tp = (w @ tp_i).astype(np.float64)
    npred = (w @ pred_i).astype(np.float64)
    pos = (w @ y.sum(1).astype(np.float32)).astype(np.float64)[:, None]
    precision = _ratio(tp, npred, 1.0)
    recall = _ratio(tp, np.broadcast_to(pos, tp.shape), 1.0)
    return _ratio(2 * precision * recall, precision + recall, 0.0)


def average_precision(*, column: int | None = None) -> WeightedMetric:
    """Average precision (AuPRC) over all (image, label) pairs, micro, or over one label's
    column. Exactly :func:`edgeops.evaluation.metrics.average_precision` on each resample: an
    image drawn k times is k pairs of equal score, which fall into the same tie block, so the
    resample's AP is a weighted AP over the pairs in one fixed score order."""

    def metric(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        if column is not None:
            s, y = s[:, column : column + 1], y[:, column : column + 1]
        return weighted_average_precision(s, y, w)

    return metric


def weighted_average_precision(
    scores: np.ndarray, truth: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Average precision of all (image, label) pairs, each pair weighted by its image's row
    of ``weights``; 0.0 for a row with no positive (as the unweighted one).

    AP is the sum over blocks of equal score, highest first, of (true weight in the block) x
    (precision at the block's end) / (all true weight). Only blocks holding a true pair add to
    it, so every pair is put once into the group of the first such block at or below its score
    (pairs below the last one drop out), and each row's weight per group is one ``bincount``."""
    s, y = _tables(scores, truth)
    order = np.argsort(-s.ravel(), kind="mergesort")
    pair_score = s.ravel()[order]
    pair_true = y.ravel()[order]
    pair_image = np.repeat(np.arange(len(s)), s.shape[1])[order]
    block = np.r_[0, np.cumsum(np.diff(pair_score) != 0)]
    true_blocks = np.unique(block[pair_true])
    out = np.zeros(len(weights))
    if len(true_blocks) == 0:
        return out
    groups = len(true_blocks)
    # == groups below the last true block
    group_of_pair = np.asarray(np.searchsorted(true_blocks, block))
    kept = group_of_pair < groups
    group, image = group_of_pair[kept], pair_image[kept]
    true_group, true_image = group[pair_true[kept]], image[pair_true[kept]]
    chunk = max(1, _CHUNK_VALUES // max(1, len(group)))
    for start in range(0, len(weights), chunk):
        w = weights[start : start + chunk]
        rows = len(w)
        offset = (np.arange(rows) * groups)[:, None]
        every = np.bincount(
            (offset + group).ravel(), weights=w[:, image].ravel(), minlength=rows * groups
        ).reshape(rows, groups)
        gained = np.bincount(
            (offset + true_group).ravel(),
            weights=w[:, true_image].ravel(),
            minlength=rows * groups,
        ).reshape(rows, groups)
        tp = np.cumsum(gained, axis=1)
        npred = np.cumsum(every, axis=1)
        # a group gains true weight only if it holds drawn pairs, so npred > 0 wherever it counts
        precision = np.divide(tp, npred, out=np.zeros_like(tp), where=npred > 0)
        total = tp[:, -1]
        area = (gained * precision).sum(1)
        out[start : start + rows] = np.divide(area, total, out=np.zeros_like(area), where=total > 0)
    return out
