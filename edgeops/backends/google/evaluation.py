"""Vertex AI's classification model evaluation -> edgeops' backend-independent ``Evaluation``.

Vertex reports ``confidenceMetrics`` at its own list of confidence thresholds (denser near 1).
Each of our grid thresholds 0.00..1.00 takes the entry with the largest threshold at or below it
(the same "at or just below" rule as ``threshold_index``); per-label curves come from the
evaluation's ``annotationSpec`` slices. Threshold rules and gates then run exactly as on the
local backend (``edgeops.evaluation``).
"""

from __future__ import annotations

from typing import Any

from edgeops.evaluation import THRESHOLDS, Curve, Evaluation, LabelMetrics


def curve_from_confidence_metrics(entries: list[dict[str, Any]]) -> Curve:
    rows = (
        sorted(
            (float(e.get("confidenceThreshold", 0.0)), e)
            for e in entries
            if "confidenceThreshold" in e or "precision" in e
        )
        if entries
        else []
    )
    if not rows:
        raise ValueError("the model evaluation has no confidenceMetrics")
    precision, recall, f1, fpr = [], [], [], []
    j = 0
    for t in THRESHOLDS:
        while j + 1 < len(rows) and rows[j + 1][0] <= t + 1e-9:
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
        at0 = next((e for e in metrics.get("confidenceMetrics", []) if "precisionAt1" in e), None)
        if at0 is not None:
            top1 = float(at0["precisionAt1"])
    per_label = []
    for lab in labels:
        s = slices.get(lab)
        if s and s.get("confidenceMetrics"):
            curve = curve_from_confidence_metrics(s["confidenceMetrics"])
            au = float(s.get("auPrc", 0.0))
        else:
            curve = Curve(*([(0.0,) * len(THRESHOLDS)] * 4))
            au = 0.0
        per_label.append(LabelMetrics(lab, int(support.get(lab, 0)), round(au, 6), curve))
    return Evaluation(
        labels=labels,
        multi_label=multi_label,
        n_examples=int(n),
        au_prc=round(float(metrics.get("auPrc", 0.0)), 6),
        log_loss=round(float(metrics.get("logLoss", 0.0)), 6),
        top1_accuracy=round(float(top1), 6),
        overall=curve_from_confidence_metrics(metrics.get("confidenceMetrics", [])),
        per_label=tuple(per_label),
        confusion=confusion,
        extra=dict(extra or {}),
    )
