"""Evaluation metrics of a classifier, computed from a table of scores (pure numpy).

The numbers follow AutoML Vision Edge's evaluation: every (image, label) pair whose score is at
or above a confidence threshold counts as a prediction, so the overall precision and recall are
micro-averaged over all pairs; the same definition serves single-label and multi-label models.
Backend-independent: the local backend feeds it scores from the exported ``.tflite``; a Google
backend can build an :class:`Evaluation` from Vertex's metrics with :meth:`Evaluation.from_dict`.

Conventions (hand-checkable, see tests):
- thresholds are 0.00, 0.01, ..., 1.00; a pair is predicted positive when ``score >= t``;
- precision with no predicted positive is 1.0 (nothing claimed, nothing wrong), recall with no
  true positive is 1.0 (nothing to find);
- AuPRC is average precision (sum over recall steps of precision at that step), the estimator
  scikit-learn's ``average_precision_score`` uses, micro-averaged over pairs for ``au_prc``.

Every metric comes with a 95% interval (:meth:`Evaluation.intervals_at`): Wilson intervals for
proportions from the counts behind them (kept in each curve's :class:`Counts`), and percentile
bootstrap intervals over test images for AuPRC, log loss and F1 (computed once, when the scores
are at hand, by :mod:`edgeops.evaluation.stats`). Evaluations written before intervals existed
load without them; their intervals are simply absent (shown as "n/a").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeops.evaluation.intervals import BOOTSTRAP_RESAMPLES

if TYPE_CHECKING:
    from edgeops.evaluation.stats import Interval

FORMAT_VERSION = 1
THRESHOLDS: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(101))
_EPS = 1e-7
MAX_MISTAKES = 24


@dataclass(frozen=True)
class Counts:
    """The (image, label) pair counts behind a curve: at each threshold of :data:`THRESHOLDS`
    how many pairs are predicted and how many of those are true; and the true and false pairs
    in all. Precision is ``true_positives / predicted``, recall ``true_positives /
    positives``, false-positive rate ``(predicted - true_positives) / negatives``."""

    true_positives: tuple[int, ...]
    predicted: tuple[int, ...]
    positives: int
    negatives: int


@dataclass(frozen=True)
class Curve:
    """Confidence metrics at each threshold of :data:`THRESHOLDS` (same length, same order)."""

    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    false_positive_rate: tuple[float, ...]
    counts: Counts | None = None  # absent in evaluations written before intervals existed
    f1_ci: tuple[tuple[float, float], ...] | None = None  # bootstrap 95% interval per threshold

    def at(self, threshold: float) -> dict[str, float]:
        i = threshold_index(threshold)
        return {
            "precision": self.precision[i],
            "recall": self.recall[i],
            "f1": self.f1[i],
            "false_positive_rate": self.false_positive_rate[i],
        }

    def intervals_at(self, threshold: float, n_images: int) -> dict[str, Interval]:
        """95% intervals of the metrics of :meth:`at` that this curve can give: Wilson for
        precision, recall and false-positive rate (from :attr:`counts`), the bootstrap over
        ``n_images`` test images for F1 (from :attr:`f1_ci`)."""
        from edgeops.evaluation.stats import Interval, wilson_interval

        i = threshold_index(threshold)
        out: dict[str, Interval] = {}
        c = self.counts
        if c is not None:
            tp, pred = c.true_positives[i], c.predicted[i]
            out["precision"] = wilson_interval(tp, pred, self.precision[i])
            out["recall"] = wilson_interval(tp, c.positives, self.recall[i])
            out["false_positive_rate"] = wilson_interval(
                pred - tp, c.negatives, self.false_positive_rate[i]
            )
        if self.f1_ci is not None:
            lo, hi = self.f1_ci[i]
            out["f1"] = Interval(self.f1[i], lo, hi, n_images, "bootstrap")
        return out


@dataclass(frozen=True)
class LabelMetrics:
    label: str
    support: int  # test images that carry this label
    au_prc: float
    curve: Curve
    au_prc_ci: tuple[float, float] | None = None  # bootstrap 95% interval over test images

    def intervals_at(self, threshold: float, n_images: int) -> dict[str, Interval]:
        """This label's 95% intervals at ``threshold``: AuPRC and the curve's
        (:meth:`Curve.intervals_at`); the bootstrap resamples ``n_images`` test images."""
        out = _bootstrapped({"au_prc": (self.au_prc, self.au_prc_ci)}, n_images)
        return {**out, **self.curve.intervals_at(threshold, n_images)}


@dataclass(frozen=True)
class Mistake:
    image_id: str
    true_labels: tuple[str, ...]
    predicted: str  # the top-scoring label
    score: float  # its score


@dataclass(frozen=True)
class Evaluation:
    labels: tuple[str, ...]
    multi_label: bool
    n_examples: int
    au_prc: float  # micro-averaged over (image, label) pairs
    log_loss: float  # single-label: mean -log p(true); multi-label: mean binary cross-entropy
    top1_accuracy: float  # single-label: argmax == label; multi-label: argmax among the labels
    overall: Curve  # micro-averaged over all (image, label) pairs
    per_label: tuple[LabelMetrics, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true label, columns: top-1 predicted label
    mistakes: tuple[Mistake, ...] = ()  # worst first
    extra: dict[str, Any] = field(default_factory=dict)  # free-form (e.g. which model was run)
    au_prc_ci: tuple[float, float] | None = None  # bootstrap 95% intervals over test images
    log_loss_ci: tuple[float, float] | None = None
    # k-fold cross-validated metrics on train+validation beside a small test split: an
    # evaluation of out-of-fold scores whose ``extra`` says what it is (evaluation.crossval)
    cross_validation: Evaluation | None = None

    def label_metrics(self, label: str) -> LabelMetrics:
        return next(m for m in self.per_label if m.label == label)

    def intervals_at(self, threshold: float) -> dict[str, Interval]:
        """Every metric of this evaluation that has a 95% interval, by name: ``top1_accuracy``
        (Wilson, from the rounded accuracy times the images: exact for any realistic split),
        ``au_prc`` and ``log_loss`` (bootstrap, when recorded) and the overall curve's at
        ``threshold`` (:meth:`Curve.intervals_at`). A metric without one is left out."""
        from edgeops.evaluation.stats import wilson_interval

        n = self.n_examples
        out = {
            "top1_accuracy": wilson_interval(
                int(round(self.top1_accuracy * n)), n, self.top1_accuracy
            )
        }
        out.update(
            _bootstrapped(
                {
                    "au_prc": (self.au_prc, self.au_prc_ci),
                    "log_loss": (self.log_loss, self.log_loss_ci),
                },
                n,
            )
        )
        out.update(self.overall.intervals_at(threshold, n))
        return out

    def summary_at(self, threshold: float) -> dict[str, Any]:
        """The headline numbers at ``threshold`` as a version records them: AuPRC, log loss,
        top-1 accuracy, the overall curve's metrics, and ``intervals`` ({metric:
        Interval.to_dict()}, what plan, show and models print beside each metric)."""
        return {
            "threshold": threshold,
            "au_prc": self.au_prc,
            "log_loss": self.log_loss,
            "top1_accuracy": self.top1_accuracy,
            **self.overall.at(threshold),
            "intervals": {k: v.to_dict() for k, v in self.intervals_at(threshold).items()},
        }

    # ---- JSON round trip ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "multi_label": self.multi_label,
            "n_examples": self.n_examples,
            "au_prc": self.au_prc,
            "log_loss": self.log_loss,
            "top1_accuracy": self.top1_accuracy,
            "thresholds": list(THRESHOLDS),
            "overall": _curve_to_dict(self.overall),
            "per_label": [
                {
                    "label": m.label,
                    "support": m.support,
                    "au_prc": m.au_prc,
                    "curve": _curve_to_dict(m.curve),
                    **_ci_to_dict("au_prc_ci", m.au_prc_ci),
                }
                for m in self.per_label
            ],
            "confusion": [list(r) for r in self.confusion],
            "mistakes": [
                {
                    "image_id": m.image_id,
                    "true_labels": list(m.true_labels),
                    "predicted": m.predicted,
                    "score": m.score,
                }
                for m in self.mistakes
            ],
            "extra": dict(self.extra),
            **_ci_to_dict("au_prc_ci", self.au_prc_ci),
            **_ci_to_dict("log_loss_ci", self.log_loss_ci),
            **(
                {"cross_validation": self.cross_validation.to_dict()}
                if self.cross_validation is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evaluation:
        version = d.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(
                f"evaluation format_version {version} is not supported "
                f"(this edgeops reads {FORMAT_VERSION})"
            )
        if list(d.get("thresholds", THRESHOLDS)) != list(THRESHOLDS):
            raise ValueError("evaluation thresholds must be 0.00..1.00 in steps of 0.01")
        return cls(
            labels=tuple(d["labels"]),
            multi_label=bool(d["multi_label"]),
            n_examples=int(d["n_examples"]),
            au_prc=float(d["au_prc"]),
            log_loss=float(d["log_loss"]),
            top1_accuracy=float(d["top1_accuracy"]),
            overall=_curve_from_dict(d["overall"]),
            per_label=tuple(
                LabelMetrics(
                    m["label"],
                    int(m["support"]),
                    float(m["au_prc"]),
                    _curve_from_dict(m["curve"]),
                    _ci_from_dict(m.get("au_prc_ci")),
                )
                for m in d["per_label"]
            ),
            confusion=tuple(tuple(int(x) for x in r) for r in d["confusion"]),
            mistakes=tuple(
                Mistake(m["image_id"], tuple(m["true_labels"]), m["predicted"], float(m["score"]))
                for m in d.get("mistakes", [])
            ),
            extra=dict(d.get("extra", {})),
            au_prc_ci=_ci_from_dict(d.get("au_prc_ci")),
            log_loss_ci=_ci_from_dict(d.get("log_loss_ci")),
            cross_validation=(
                cls.from_dict(d["cross_validation"]) if d.get("cross_validation") else None
            ),
        )


def threshold_index(threshold: float) -> int:
    """Index in :data:`THRESHOLDS` of the grid point at or just below ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is outside [0, 1]")
    return int(np.floor(threshold * 100 + 1e-6))


def _bootstrapped(
    values: dict[str, tuple[float, tuple[float, float] | None]], n: int
) -> dict[str, Interval]:
    from edgeops.evaluation.stats import Interval

    return {
        name: Interval(value, ci[0], ci[1], n, "bootstrap")
        for name, (value, ci) in values.items()
        if ci is not None
    }


def _ci_to_dict(key: str, ci: tuple[float, float] | None) -> dict[str, list[float]]:
    return {} if ci is None else {key: [ci[0], ci[1]]}


def _ci_from_dict(value: Sequence[float] | None) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


def _curve_to_dict(c: Curve) -> dict[str, Any]:
    d: dict[str, Any] = {
        "precision": list(c.precision),
        "recall": list(c.recall),
        "f1": list(c.f1),
        "false_positive_rate": list(c.false_positive_rate),
    }
    if c.counts is not None:
        d["counts"] = {
            "true_positives": list(c.counts.true_positives),
            "predicted": list(c.counts.predicted),
            "positives": c.counts.positives,
            "negatives": c.counts.negatives,
        }
    if c.f1_ci is not None:
        d["f1_ci"] = [[lo, hi] for lo, hi in c.f1_ci]
    return d


def _curve_from_dict(d: dict[str, Any]) -> Curve:
    counts = d.get("counts")
    f1_ci = d.get("f1_ci")
    c = Curve(
        tuple(map(float, d["precision"])),
        tuple(map(float, d["recall"])),
        tuple(map(float, d["f1"])),
        tuple(map(float, d["false_positive_rate"])),
        counts=None
        if counts is None
        else Counts(
            tuple(map(int, counts["true_positives"])),
            tuple(map(int, counts["predicted"])),
            int(counts["positives"]),
            int(counts["negatives"]),
        ),
        f1_ci=None if f1_ci is None else tuple((float(lo), float(hi)) for lo, hi in f1_ci),
    )
    lengths = [len(v) for v in (c.precision, c.recall, c.f1, c.false_positive_rate)]
    if c.counts is not None:
        lengths += [len(c.counts.true_positives), len(c.counts.predicted)]
    if c.f1_ci is not None:
        lengths.append(len(c.f1_ci))
    if any(n != len(THRESHOLDS) for n in lengths):
        raise ValueError("evaluation curves must have one value per threshold (101)")
    return c


def confidence_curve(
    scores: np.ndarray,
    truth: np.ndarray,
    f1_ci: tuple[tuple[float, float], ...] | None = None,
) -> Curve:
    """Precision/recall/F1/FPR at every threshold for flattened (pair) scores and 0/1 truth,
    with the counts behind them (and ``f1_ci`` when given)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(truth, dtype=bool).ravel()
    t = np.asarray(THRESHOLDS)[:, None]
    pred = s[None, :] >= t - 1e-9
    tp_n = (pred & y).sum(1)
    pred_n = pred.sum(1)
    counts = Counts(
        tuple(int(x) for x in tp_n),
        tuple(int(x) for x in pred_n),
        int(y.sum()),
        int((~y).sum()),
    )
    tp = tp_n.astype(np.float64)
    fp = (pred_n - tp_n).astype(np.float64)
    pos = float(counts.positives)
    neg = float(counts.negatives)
    npred = tp + fp
    precision = np.where(npred > 0, tp / np.maximum(npred, 1), 1.0)
    recall = tp / pos if pos > 0 else np.ones_like(tp)
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    fpr = fp / neg if neg > 0 else np.zeros_like(fp)
    rnd = lambda a: tuple(round(float(x), 6) for x in a)  # noqa: E731
    return Curve(rnd(precision), rnd(recall), rnd(f1), rnd(fpr), counts, f1_ci)


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (ties handled as a block)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(truth, dtype=bool).ravel()
    pos = int(y.sum())
    if pos == 0:
        return 0.0
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # last index of each block of equal scores
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[distinct].astype(np.float64)
    npred = distinct + 1.0
    precision = tp / npred
    recall = tp / pos
    prev_recall = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev_recall) * precision))


def evaluate_scores(
    scores: np.ndarray,
    true_labels: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    multi_label: bool,
    image_ids: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Evaluation:
    """Builds an :class:`Evaluation` from scores (n_images x n_labels) and each image's labels.

    Single-label scores are probabilities over labels (softmax); multi-label scores are
    independent per-label probabilities (sigmoid). The bootstrap intervals (AuPRC, log loss, F1
    per threshold, overall and per label) resample the test images ``resamples`` times from
    ``seed`` (0: none are computed).
    """
    labels = tuple(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    p = np.asarray(scores, dtype=np.float64)
    n = len(true_labels)
    if p.shape != (n, len(labels)):
        raise ValueError(f"scores have shape {p.shape}, expected {(n, len(labels))}")
    if n == 0:
        raise ValueError("cannot evaluate on an empty test split")
    ids = list(image_ids) if image_ids is not None else [str(i) for i in range(n)]
    y = np.zeros_like(p, dtype=bool)
    for i, labs in enumerate(true_labels):
        for lab in labs:
            y[i, index[lab]] = True

    pc = np.clip(p, _EPS, 1 - _EPS)
    if multi_label:
        log_loss = float(np.mean(-(y * np.log(pc) + (~y) * np.log(1 - pc))))
    else:
        log_loss = float(np.mean(-np.log(pc[y])))
    top = p.argmax(1)
    top1 = float(np.mean(y[np.arange(n), top]))
    ci = _Bootstrap(p, y, multi_label, resamples, seed)

    per_label = tuple(
        LabelMetrics(
            lab,
            int(y[:, j].sum()),
            round(average_precision(p[:, j], y[:, j]), 6),
            confidence_curve(p[:, j], y[:, j], ci.f1(j)),
            ci.au_prc(j),
        )
        for j, lab in enumerate(labels)
    )
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for i in range(n):
        for j in np.nonzero(y[i])[0]:
            confusion[j, top[i]] += 1

    # Worst mistakes: wrong top-1 with the most confident score first.
    wrong = [i for i in range(n) if not y[i, top[i]]]
    wrong.sort(key=lambda i: (-p[i, top[i]], ids[i]))
    mistakes = tuple(
        Mistake(ids[i], tuple(true_labels[i]), labels[top[i]], round(float(p[i, top[i]]), 6))
        for i in wrong[:MAX_MISTAKES]
    )
    return Evaluation(
        labels=labels,
        multi_label=multi_label,
        n_examples=n,
        au_prc=round(average_precision(p, y), 6),
        log_loss=round(log_loss, 6),
        top1_accuracy=round(top1, 6),
        overall=confidence_curve(p, y, ci.f1()),
        per_label=per_label,
        confusion=tuple(tuple(int(x) for x in r) for r in confusion),
        mistakes=mistakes,
        extra=dict(extra or {}),
        au_prc_ci=ci.au_prc(),
        log_loss_ci=ci.log_loss(),
    )


class _Bootstrap:
    """The bootstrap intervals of one evaluation, all on one table of resampled test images
    (nothing when ``resamples`` is 0)."""

    def __init__(
        self, p: np.ndarray, y: np.ndarray, multi_label: bool, resamples: int, seed: int
    ) -> None:
        from edgeops.evaluation import stats

        self._stats = stats
        self._p, self._y, self._multi_label = p, y, multi_label
        self._w = stats.resample_counts(len(p), resamples, seed) if resamples > 0 else None

    def _columns(self, column: int | None) -> tuple[np.ndarray, np.ndarray]:
        if column is None:
            return self._p, self._y
        return self._p[:, column : column + 1], self._y[:, column : column + 1]

    def au_prc(self, column: int | None = None) -> tuple[float, float] | None:
        if self._w is None:
            return None
        iv = self._stats.bootstrap(
            self._stats.average_precision(), *self._columns(column), weights=self._w
        )
        return round(iv.lo, 6), round(iv.hi, 6)

    def log_loss(self) -> tuple[float, float] | None:
        if self._w is None:
            return None
        metric = self._stats.log_loss(multi_label=self._multi_label)
        iv = self._stats.bootstrap(metric, self._p, self._y, weights=self._w)
        return round(iv.lo, 6), round(iv.hi, 6)

    def f1(self, column: int | None = None) -> tuple[tuple[float, float], ...] | None:
        if self._w is None:
            return None
        p, y = self._columns(column)
        lo, hi = self._stats.percentiles(self._stats.f1_curve(p, y, self._w), y, self._w)
        return tuple((round(float(a), 6), round(float(b), 6)) for a, b in zip(lo, hi, strict=True))
