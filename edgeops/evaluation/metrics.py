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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT_VERSION = 1
THRESHOLDS: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(101))
_EPS = 1e-7
MAX_MISTAKES = 24


@dataclass(frozen=True)
class Curve:
    """Confidence metrics at each threshold of :data:`THRESHOLDS` (same length, same order)."""

    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    false_positive_rate: tuple[float, ...]

    def at(self, threshold: float) -> dict[str, float]:
        i = threshold_index(threshold)
        return {
            "precision": self.precision[i],
            "recall": self.recall[i],
            "f1": self.f1[i],
            "false_positive_rate": self.false_positive_rate[i],
        }


@dataclass(frozen=True)
class LabelMetrics:
    label: str
    support: int  # test images that carry this label
    au_prc: float
    curve: Curve


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

    def label_metrics(self, label: str) -> LabelMetrics:
        return next(m for m in self.per_label if m.label == label)

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
                    m["label"], int(m["support"]), float(m["au_prc"]), _curve_from_dict(m["curve"])
                )
                for m in d["per_label"]
            ),
            confusion=tuple(tuple(int(x) for x in r) for r in d["confusion"]),
            mistakes=tuple(
                Mistake(m["image_id"], tuple(m["true_labels"]), m["predicted"], float(m["score"]))
                for m in d.get("mistakes", [])
            ),
            extra=dict(d.get("extra", {})),
        )


def threshold_index(threshold: float) -> int:
    """Index in :data:`THRESHOLDS` of the grid point at or just below ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} is outside [0, 1]")
    return int(np.floor(threshold * 100 + 1e-6))


def _curve_to_dict(c: Curve) -> dict[str, list[float]]:
    return {
        "precision": list(c.precision),
        "recall": list(c.recall),
        "f1": list(c.f1),
        "false_positive_rate": list(c.false_positive_rate),
    }


def _curve_from_dict(d: dict[str, Sequence[float]]) -> Curve:
    c = Curve(
        tuple(map(float, d["precision"])),
        tuple(map(float, d["recall"])),
        tuple(map(float, d["f1"])),
        tuple(map(float, d["false_positive_rate"])),
    )
    if not all(
        len(v) == len(THRESHOLDS) for v in (c.precision, c.recall, c.f1, c.false_positive_rate)
    ):
        raise ValueError("evaluation curves must have one value per threshold (101)")
    return c


def confidence_curve(scores: np.ndarray, truth: np.ndarray) -> Curve:
    """Precision/recall/F1/FPR at every threshold for flattened (pair) scores and 0/1 truth."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(truth, dtype=bool).ravel()
    t = np.asarray(THRESHOLDS)[:, None]
    pred = s[None, :] >= t - 1e-9
    tp = (pred & y).sum(1).astype(np.float64)
    fp = (pred & ~y).sum(1).astype(np.float64)
    pos = float(y.sum())
    neg = float((~y).sum())
    npred = tp + fp
    precision = np.where(npred > 0, tp / np.maximum(npred, 1), 1.0)
    recall = tp / pos if pos > 0 else np.ones_like(tp)
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    fpr = fp / neg if neg > 0 else np.zeros_like(fp)
    rnd = lambda a: tuple(round(float(x), 6) for x in a)  # noqa: E731
    return Curve(rnd(precision), rnd(recall), rnd(f1), rnd(fpr))


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
) -> Evaluation:
    """Builds an :class:`Evaluation` from scores (n_images x n_labels) and each image's labels.

    Single-label scores are probabilities over labels (softmax); multi-label scores are
    independent per-label probabilities (sigmoid).
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

    per_label = tuple(
        LabelMetrics(
            lab,
            int(y[:, j].sum()),
            round(average_precision(p[:, j], y[:, j]), 6),
            confidence_curve(p[:, j], y[:, j]),
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
        overall=confidence_curve(p, y),
        per_label=per_label,
        confusion=tuple(tuple(int(x) for x in r) for r in confusion),
        mistakes=mistakes,
        extra=dict(extra or {}),
    )
