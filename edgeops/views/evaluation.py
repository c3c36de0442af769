"""`edgeops eval`: a version's evaluation as text (the Evaluate tab of AutoML Vision Edge)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from edgeops.views.text import text_console


def render_evaluation(
    title: str, evaluation: Any, threshold: float, gate: Any, *, width: int = 100
) -> str:
    """The Evaluate tab as text: summary at the threshold, per label, confusion matrix, gate."""
    console, buf = text_console(width)
    at = evaluation.overall.at(threshold)
    console.print(
        f"{title}: {evaluation.n_examples} test images, threshold {threshold:.2f}\n"
        f"  AuPRC {evaluation.au_prc:.4f} · log loss {evaluation.log_loss:.4f} · "
        f"top-1 accuracy {evaluation.top1_accuracy:.4f}\n"
        f"  at the threshold: precision {at['precision']:.4f} · recall {at['recall']:.4f} · "
        f"F1 {at['f1']:.4f} · false-positive rate {at['false_positive_rate']:.4f}"
    )
    t = Table(title="per label (at the threshold)")
    for col in ("label", "test images", "AuPRC", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "label" else "right", no_wrap=True)
    for m in evaluation.per_label:
        lat = m.curve.at(threshold)
        t.add_row(
            m.label,
            str(m.support),
            f"{m.au_prc:.3f}",
            f"{lat['precision']:.3f}",
            f"{lat['recall']:.3f}",
            f"{lat['f1']:.3f}",
        )
    console.print(t)
    cm = Table(title="confusion matrix (rows: true label, columns: predicted top-1)")
    cm.add_column("", no_wrap=True)
    for i, _label in enumerate(evaluation.labels):
        cm.add_column(str(i), justify="right")
    for i, (label, row) in enumerate(zip(evaluation.labels, evaluation.confusion, strict=True)):
        cm.add_row(f"{i} {label}", *(str(x) for x in row))
    console.print(cm)
    console.print(gate.message())
    return buf.getvalue()
