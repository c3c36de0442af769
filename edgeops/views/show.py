"""`edgeops show`: live state as text tables or JSON."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from rich.table import Table

from edgeops.evaluation.intervals import intervals_from_dict
from edgeops.state import LiveState, short
from edgeops.views.text import (
    INTERVALS_CAPTION,
    cross_validation_lines,
    num,
    num_ci,
    text_console,
    timing_lines,
)


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
    console, buf = text_console(width)
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
        t = Table(title=address, caption=INTERVALS_CAPTION)
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
            intervals = intervals_from_dict(s.get("intervals"))
            t.add_row(
                f"v{v.version}",
                v.status,
                "yes" if v.blessed else "no",
                num(v.threshold),
                *(num_ci(s.get(k), intervals.get(k)) for k in ("precision", "recall", "au_prc")),
                v.stop_reason or "-",
                f"{v.cost_node_hours:.4f}",
                v.created_at[:16].replace("T", " "),
            )
        console.print(t)
        cv = [(v.version, v.metrics.get("cross_validation")) for v in m.versions]
        for line in cross_validation_lines(cv):
            console.print(line, soft_wrap=True)
        timed = [(v.version, v.cost_node_hours, v.metrics.get("estimate")) for v in m.versions]
        for line in timing_lines(timed):
            console.print(line, soft_wrap=True)
    if live.publish:
        t = Table(title="publish targets")
        for col in ("address", "version", "target", "drift"):
            t.add_column(col)
        for address, p in live.publish.items():
            target = ", ".join(f"{k}={v}" for k, v in p.spec.items())
            t.add_row(address, f"v{p.version}", target, "; ".join(p.drift) or "-")
        console.print(t)
    return buf.getvalue()
