"""Vertex AI's classification model evaluation -> edgeops' backend-independent ``Evaluation``.

Vertex reports ``confidenceMetrics`` at its own thresholds: 0.00, 0.05 .. 0.95, 0.96 .. 0.99
(ClassificationEvaluationMetrics, the ``classification_metrics_1.0.0.yaml`` metrics schema of
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.models.evaluations):
the curve is the entries "for each confidenceThreshold ... and positionThreshold =
INT32_MAX_VALUE"; entries "may also be supplied for additional values of positionThreshold, but
from these no aggregated metrics are computed". An entry's position threshold is its
``maxPredictions`` ("the Model always returns at most this many predictions ... but they all still
need to meet the confidenceThreshold"). The page does not say how the unlimited one is written,
so both shapes are read: ``maxPredictions`` absent (proto3 JSON leaves an unset field out) or
2147483647 (INT32_MAX_VALUE) is a point of the curve; any other value is a top-k entry, left
out. The metrics are proto3 JSON, so a field at its zero value is absent: a missing
``confidenceThreshold`` is 0.0, a missing precision/recall is 0.0.

Each of our grid thresholds 0.00..1.00 takes the entry with the largest threshold at or below it
(the same "at or just below" rule as ``threshold_index``), within ``TOLERANCE``: the service
stores thresholds as float32, so 0.05 may come back as 0.05000000074505806 and must still count
as 0.05. A grid threshold below every entry takes the lowest one.

Per-label curves come from the evaluation's ``annotationSpec`` slices (keyed by the label's
display name). A label without a slice has no curve of its own: it gets the overall curve as a
stand-in (so a multi-label per-label threshold falls back to the overall one instead of 0.00,
which would predict that label for every image), AuPRC 0, and is listed in
``extra["labels_without_vertex_metrics"]``. The confusion matrix is reordered from Vertex's
``annotationSpecs`` order to our sorted labels by display name; a label Vertex did not list has
an all-zero row and column, a spec we do not know is dropped. Threshold rules and gates then
run exactly as on the local backend (``edgeops.evaluation``).
"""

from __future__ import annotations

from typing import Any

from edgeops.errors import EdgeopsError
from edgeops.evaluation import THRESHOLDS, Curve, Evaluation, LabelMetrics

TOLERANCE = 1e-6  # float32 rounding of a threshold; far below the 0.01 grid spacing
UNLIMITED = 2**31 - 1  # INT32_MAX_VALUE: the position threshold of the curve


def on_the_curve(entry: dict[str, Any]) -> bool:
    """Whether an entry is at position threshold INT32_MAX_VALUE: ``maxPredictions`` absent
    (or 0, proto3's unset) or written out as 2147483647."""
    return int(float(entry.get("maxPredictions", 0) or 0)) in (0, UNLIMITED)


def curve_entries(entries: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """(threshold, entry) of the confidence-threshold curve, ascending; one entry per threshold.
    Entries at another position threshold (top-k) are not part of it."""
    by_threshold: dict[float, dict[str, Any]] = {}
    for e in entries or []:
        if on_the_curve(e):
            by_threshold.setdefault(float(e.get("confidenceThreshold", 0.0)), e)
    return sorted(by_threshold.items(), key=lambda kv: kv[0])


def curve_from_confidence_metrics(entries: list[dict[str, Any]]) -> Curve:
    rows = curve_entries(entries)
    if not rows:
        raise EdgeopsError(
            "the Vertex AI model evaluation has no confidenceMetrics at position threshold "
            "INT32_MAX (the curve); edgeops cannot pick a threshold or check the gate without them"
        )
    precision, recall, f1, fpr = [], [], [], []
    j = 0
    for t in THRESHOLDS:
        while j + 1 < len(rows) and rows[j + 1][0] <= t + TOLERANCE:
            j += 1
        e = rows[j][1]
        p = float(e.get("precision", 0.0))
        r = float(e.get("recall", 0.0))
        f = e.get("f1Score")
        precision.append(round(p, 6))
        recall.append(round(r, 6))
        f1.append(round(float(f) if f is not None else (2 * p * r / (p + r) if p + r else 0.0), 6))
        fpr.append(round(float(e.get("falsePositiveRate", 0.0)), 6))
    return Curve(tuple(precision), tuple(recall), tuple(f1), tuple(fpr))


def evaluation_from_vertex(
    metrics: dict[str, Any],
    slices: dict[str, dict[str, Any]],
    *,
    multi_label: bool,
    labels: tuple[str, ...],
    extra: dict[str, Any] | None = None,
) -> Evaluation:
    """``metrics``: the ModelEvaluation's metrics (REST JSON); ``slices``: label -> its metrics."""
    cm = metrics.get("confusionMatrix") or {}
    specs = [s.get("displayName", "") for s in cm.get("annotationSpecs", [])]
    raw_rows = [[int(float(x)) for x in row] for row in cm.get("rows", [])]
    order = [specs.index(lab) if lab in specs else -1 for lab in labels]
    confusion = tuple(
        tuple(raw_rows[i][j] if i >= 0 and j >= 0 else 0 for j in order)
        if i >= 0
        else tuple(0 for _ in order)
        for i in order
    )
    support = {lab: sum(row) for lab, row in zip(labels, confusion, strict=True)}
    n = sum(support.values())
    diag = sum(confusion[k][k] for k in range(len(labels)))
    top1 = diag / n if n else 0.0
    if multi_label or not n:
        entries = [e for _, e in curve_entries(metrics.get("confidenceMetrics", []))]
        at0 = next((e for e in entries if "precisionAt1" in e), None)
        if at0 is not None:
            top1 = float(at0["precisionAt1"])
    overall = curve_from_confidence_metrics(metrics.get("confidenceMetrics", []))
    per_label, missing = [], []
    for lab in labels:
        s = slices.get(lab)
        if s and curve_entries(s.get("confidenceMetrics", [])):
            curve = curve_from_confidence_metrics(s["confidenceMetrics"])
            au = float(s.get("auPrc", 0.0))
        else:
            curve, au = overall, 0.0
            missing.append(lab)
        per_label.append(LabelMetrics(lab, int(support.get(lab, 0)), round(au, 6), curve))
    notes = {"labels_without_vertex_metrics": missing} if missing else {}
    return Evaluation(
        labels=labels,
        multi_label=multi_label,
        n_examples=int(n),
        au_prc=round(float(metrics.get("auPrc", 0.0)), 6),
        log_loss=round(float(metrics.get("logLoss", 0.0)), 6),
        top1_accuracy=round(float(top1), 6),
        overall=overall,
        per_label=tuple(per_label),
        confusion=confusion,
        extra={**(extra or {}), **notes},
    )
