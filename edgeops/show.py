"""Render live state for `edgeops show` (text tables or JSON)."""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from edgeops.state import LiveState, short


def live_to_dict(live: LiveState) -> dict[str, Any]:
    return {
        "format_version": 1,
        "backend": live.backend,
        "datasets": {
            a: {
                "fingerprint": d.fingerprint,
                "images": len(d.images),
                "labels": _label_split_counts(d.images),
                "updated_at": d.updated_at,
            }
            for a, d in live.datasets.items()
        },
        "models": {
            a: {"versions": [dataclasses.asdict(v) for v in m.versions]}
            for a, m in live.models.items()
        },
        "publish": {a: dataclasses.asdict(p) for a, p in live.publish.items()},
    }


def _label_split_counts(rows: Any) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for r in rows:
        for label in r.labels:
            out.setdefault(label, Counter())[r.split] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def render_live(live: LiveState, *, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False)
    if not (live.datasets or live.models or live.publish):
        console.print(f"Nothing managed yet on the {live.backend} backend. Run `edgeops apply`.")
        return buf.getvalue()
    for address, d in live.datasets.items():
        t = Table(title=f"{address}  ({len(d.images)} images, {short(d.fingerprint)})")
        for col in ("label", "train", "validation", "test", "total"):
            t.add_column(col, justify="left" if col == "label" else "right")
        for label, counts in _label_split_counts(d.images).items():
            t.add_row(
                label,
                *(str(counts.get(s, 0)) for s in ("train", "validation", "test")),
                str(sum(counts.values())),
            )
        console.print(t)
    for address, m in live.models.items():
        t = Table(title=address)
        for col in (
            "version",
            "status",
            "blessed",
            "threshold",
            "precision",
            "recall",
            "AuPRC",
            "stop reason",
            "node h",
            "created",
        ):
            t.add_column(col, no_wrap=True)
        for v in m.versions:
            s = v.metrics.get("summary", {})
            t.add_row(
                f"v{v.version}",
                v.status,
                "yes" if v.blessed else "no",
                _num(v.threshold),
                _num(s.get("precision")),
                _num(s.get("recall")),
                _num(s.get("au_prc")),
                v.stop_reason or "-",
                f"{v.cost_node_hours:.4f}",
                v.created_at[:16].replace("T", " "),
            )
        console.print(t)
    if live.publish:
        t = Table(title="publish targets")
        for col in ("address", "version", "target", "drift"):
            t.add_column(col)
        for address, p in live.publish.items():
            target = ", ".join(f"{k}={v}" for k, v in p.spec.items())
            t.add_row(address, f"v{p.version}", target, "; ".join(p.drift) or "-")
        console.print(t)
    return buf.getvalue()


def _num(x: Any) -> str:
    return "-" if x is None else f"{float(x):.3f}"


def render_evaluation(
    title: str, evaluation: Any, threshold: float, gate: Any, *, width: int = 100
) -> str:
    """The Evaluate tab as text: summary at the threshold, per label, confusion matrix, gate."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False)
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
