"""Backend-independent evaluation: metrics from scores, threshold rules, gates, HTML report.

Pure numpy; no ML framework is imported here.
"""

from edgeops.evaluation.metrics import (
    THRESHOLDS,
    Curve,
    Evaluation,
    LabelMetrics,
    Mistake,
    average_precision,
    confidence_curve,
    evaluate_scores,
)
from edgeops.evaluation.report import render_html
from edgeops.evaluation.threshold import (
    GateResult,
    GateRow,
    Judgement,
    ThresholdChoice,
    apply_gate,
    choose_threshold,
    judge,
)

__all__ = [
    "THRESHOLDS",
    "Curve",
    "Evaluation",
    "GateResult",
    "GateRow",
    "Judgement",
    "LabelMetrics",
    "Mistake",
    "ThresholdChoice",
    "apply_gate",
    "average_precision",
    "choose_threshold",
    "confidence_curve",
    "evaluate_scores",
    "judge",
    "render_html",
]
