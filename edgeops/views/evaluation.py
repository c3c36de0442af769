"""`edgeops eval`: a version's evaluation as text (the Evaluate tab of AutoML Vision Edge).

Every metric is shown with its 95% interval and the n behind it: Wilson intervals for
proportions (precision, recall, false-positive rate, top-1 accuracy), bootstrap intervals over
the test images otherwise (AuPRC, log loss, F1). An evaluation recorded before intervals
existed shows "n/a" in their place. A version with a small test split also shows its k-fold
cross-validated metrics (train+validation, the head on float features), labelled as such.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from edgeops.views.text import ci, text_console

if TYPE_CHECKING:
    from edgeops.evaluation.compare import Comparison
    from edgeops.evaluation.intervals import Interval
    from edgeops.evaluation.metrics import Evaluation
    from edgeops.evaluation.threshold import GateResult

# what the n of each interval counts
_N_UNIT = {
    "top1_accuracy": "images",
    "au_prc": "images",
    "log_loss": "images",
    "f1": "images",
    "precision": "predicted",
    "recall": "positives",
    "false_positive_rate": "negatives",
}


def render_evaluation(
    title: str,
    evaluation: Evaluation,
    threshold: float,
    gate: GateResult,
    *,
    width: int = 120,
    comparison: Comparison | None = None,
) -> str:
    """The Evaluate tab as text: summary at the threshold, per label, confusion matrix, gate,
    and (when given) the comparison with the published version."""
    console, buf = text_console(width)
    ev = evaluation
    at = ev.overall.at(threshold)
    intervals = ev.intervals_at(threshold)
    console.print(f"{title}: {ev.n_examples} test images, threshold {threshold:.2f}")
    summary = Table(
        title="summary (95% intervals: Wilson for proportions, bootstrap over test images "
        "otherwise)"
    )
    for col in ("metric", "value", "95% CI", "n", "interval"):
        summary.add_column(col, justify="left" if col in ("metric", "interval") else "right")
    for name, label, value in (
        ("au_prc", "AuPRC (micro)", ev.au_prc),
        ("log_loss", "log loss", ev.log_loss),
        ("top1_accuracy", "top-1 accuracy", ev.top1_accuracy),
        ("precision", "precision at the threshold", at["precision"]),
        ("recall", "recall at the threshold", at["recall"]),
        ("f1", "F1 at the threshold", at["f1"]),
        ("false_positive_rate", "false-positive rate at the threshold", at["false_positive_rate"]),
    ):
        iv = intervals.get(name)
        summary.add_row(label, f"{value:.4f}", ci(iv), *_n_and_method(name, iv))
    console.print(summary)
    if ev.cross_validation is not None:
        from edgeops.evaluation.crossval import describe_evaluation

        console.print(
            f"NOT the test split: {describe_evaluation(ev.cross_validation)}, "
            f"at threshold {threshold:.2f}",
            soft_wrap=True,
        )
        console.print(_cross_validation_table(ev.cross_validation, threshold))
    t = Table(title="per label (at the threshold; value, then its 95% CI)")
    for col in ("label", "test images", "AuPRC", "precision", "predicted", "recall", "F1"):
        t.add_column(col, justify="left" if col == "label" else "right", no_wrap=True)
    for m in ev.per_label:
        lat = m.curve.at(threshold)
        liv = m.intervals_at(threshold, ev.n_examples)
        predicted = liv.get("precision")
        t.add_row(
            m.label,
            str(m.support),
            _cell(m.au_prc, liv.get("au_prc")),
            _cell(lat["precision"], predicted),
            str(predicted.n) if predicted is not None else "n/a",
            _cell(lat["recall"], liv.get("recall")),
            _cell(lat["f1"], liv.get("f1")),
        )
    console.print(t)
    cm = Table(title="confusion matrix (rows: true label, columns: predicted top-1)")
    cm.add_column("", no_wrap=True)
    for i, _label in enumerate(ev.labels):
        cm.add_column(str(i), justify="right")
    for i, (label, row) in enumerate(zip(ev.labels, ev.confusion, strict=True)):
        cm.add_row(f"{i} {label}", *(str(x) for x in row))
    console.print(cm)
    console.print(gate.message())
    for w in gate.warnings:
        console.print(f"! {w}")
    if comparison is not None:
        from edgeops.evaluation.compare import comparison_lines

        for line in comparison_lines(comparison):
            console.print(line, soft_wrap=True)
    return buf.getvalue()


def _cross_validation_table(cv: Evaluation, threshold: float) -> Table:
    """The k-fold cross-validated metrics beside a small test split (labelled by the line
    printed above it)."""
    at = cv.overall.at(threshold)
    intervals = cv.intervals_at(threshold)
    t = Table(title=f"k-fold cross-validation (train+validation, n={cv.n_examples})")
    for col in ("metric", "value", "95% CI", "n", "interval"):
        t.add_column(col, justify="left" if col in ("metric", "interval") else "right")
    for name, label, value in (
        ("au_prc", "AuPRC (micro)", cv.au_prc),
        ("top1_accuracy", "top-1 accuracy", cv.top1_accuracy),
        ("precision", "precision at the threshold", at["precision"]),
        ("recall", "recall at the threshold", at["recall"]),
    ):
        iv = intervals.get(name)
        t.add_row(label, f"{value:.4f}", ci(iv), *_n_and_method(name, iv))
    return t


def _n_and_method(name: str, iv: Interval | None) -> tuple[str, str]:
    if iv is None:
        return "n/a", "n/a (recorded before intervals)"
    return f"{iv.n} {_N_UNIT[name]}", {"wilson": "Wilson"}.get(iv.method, iv.method)


def _cell(value: float, iv: Interval | None) -> str:
    return f"{value:.3f}\n{ci(iv)}"
