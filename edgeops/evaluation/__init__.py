"""Backend-independent evaluation: metrics from scores, intervals, threshold rules, gates,
champion vs candidate comparison, HTML report.

Pure numpy; no ML framework is imported here. The names below are loaded on first use, so
that importing a numpy-free module of this package (:mod:`edgeops.evaluation.intervals`, which
the plan renderer and the views use) does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeops.evaluation.compare import Comparison, apply_vs_published
    from edgeops.evaluation.intervals import Interval, mcnemar_exact, wilson
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

# where each name lives (not the function compare(): that name is its module's)
_HOME_OF = {
    "Comparison": "compare",
    "apply_vs_published": "compare",
    "Interval": "intervals",
    "mcnemar_exact": "intervals",
    "wilson": "intervals",
    "THRESHOLDS": "metrics",
    "Curve": "metrics",
    "Evaluation": "metrics",
    "LabelMetrics": "metrics",
    "Mistake": "metrics",
    "average_precision": "metrics",
    "confidence_curve": "metrics",
    "evaluate_scores": "metrics",
    "render_html": "report",
    "GateResult": "threshold",
    "GateRow": "threshold",
    "Judgement": "threshold",
    "ThresholdChoice": "threshold",
    "apply_gate": "threshold",
    "choose_threshold": "threshold",
    "judge": "threshold",
}

__all__ = [
    "Comparison",
    "Curve",
    "Evaluation",
    "GateResult",
    "GateRow",
    "Interval",
    "Judgement",
    "LabelMetrics",
    "Mistake",
    "THRESHOLDS",
    "ThresholdChoice",
    "apply_gate",
    "apply_vs_published",
    "average_precision",
    "choose_threshold",
    "confidence_curve",
    "evaluate_scores",
    "judge",
    "mcnemar_exact",
    "render_html",
    "wilson",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
