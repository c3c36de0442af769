"""Candidates trained at plan time in the plan: a TRAIN change whose model has a candidate for
its training fingerprint shows that candidate's real evaluation (and its comparison with the
served version), pins the candidate's int8 sha256 in ``after`` (apply adopts exactly it, and a
saved plan is refused once the candidate changed), and publish changes that would serve the new
version show its gate instead of "decided at apply". Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edgeops.addresses import model_address
from edgeops.evaluation.crossval import CROSS_VALIDATION, gated_summary
from edgeops.evaluation.crossval import summary_line as crossval_line
from edgeops.evaluation.intervals import recorded_bars
from edgeops.plan.definition import (
    AT_APPLY,
    CANDIDATE,
    Action,
    Change,
    GateOutlook,
    Plan,
    recorded_vs_published,
)
from edgeops.state import LiveCandidate


def with_candidates(plan: Plan, found: dict[str, LiveCandidate]) -> Plan:
    """``found``: model address -> the candidate trained for the fingerprint its TRAIN change
    asks for."""
    if not found:
        return plan
    gates = {address: _outlook(c) for address, c in found.items()}
    changes = []
    for c in plan.changes:
        if c.action == Action.TRAIN and c.address in found:
            cand = found[c.address]
            c = replace(
                c,
                after={**(c.after or {}), "candidate": summary(cand)},
                desired_fingerprint=f"{c.desired_fingerprint}:candidate={cand.sha256}",
                gates=(gates[c.address],),
            )
        elif c.kind == "publish" and c.gates:
            c = replace(c, gates=tuple(_known(g, gates) for g in c.gates))
        changes.append(c)
    return replace(plan, changes=tuple(changes))


def summary(c: LiveCandidate) -> dict[str, Any]:
    s = c.metrics.get("summary") or {}
    _, evaluated_on = gated_summary(c.metrics)
    return {
        "sha256": c.sha256,
        "trained_at": c.trained_at,
        "threshold": c.threshold,
        "blessed": c.blessed,
        "precision": s.get("precision"),
        "recall": s.get("recall"),
        "au_prc": s.get("au_prc"),
        "top1_accuracy": s.get("top1_accuracy"),
        "test_images": s.get("test_images"),
        "stop_reason": c.stop_reason,
        "cost_node_hours": c.cost_node_hours,
        "champion": c.champion,
        "comparison": c.comparison,
        "vs_published": recorded_vs_published(c.metrics),
        # k-fold cross-validated metrics beside a small test split (absent otherwise)
        **({"cross_validation": cv} if (cv := c.metrics.get("cross_validation")) else {}),
        **({"gate_evaluated_on": CROSS_VALIDATION} if evaluated_on == CROSS_VALIDATION else {}),
    }


def _outlook(c: LiveCandidate) -> GateOutlook:
    s, evaluated_on = gated_summary(c.metrics)
    return GateOutlook(
        model=c.model,
        version=None,
        decided=CANDIDATE,
        basis="new_version",
        passed=c.blessed,
        threshold=c.threshold,
        threshold_rule=str(c.metrics.get("threshold_rule", "")),
        precision=s.get("precision"),
        recall=s.get("recall"),
        au_prc=s.get("au_prc"),
        bars=recorded_bars(c.metrics.get("gate_spec")),
        evaluated_on=evaluated_on,
        intervals=dict(s.get("intervals") or {}),
        vs_published=recorded_vs_published(c.metrics),
    )


def _known(g: GateOutlook, gates: dict[str, GateOutlook]) -> GateOutlook:
    found = gates.get(model_address(g.model))
    if found is None or g.decided != AT_APPLY or not g.new_version:
        return g
    return replace(found, role=g.role, percent=g.percent)


def describe(c: Change) -> list[str]:
    """Lines for a TRAIN change with a candidate: its evaluation, verdict and comparison."""
    cand = (c.after or {}).get("candidate") if c.action == Action.TRAIN else None
    if not cand:
        return []
    metrics = ", ".join(
        f"{name} {cand[key]:.3f}"
        for name, key in (("precision", "precision"), ("recall", "recall"), ("AuPRC", "au_prc"))
        if isinstance(cand.get(key), int | float)
    )
    verdict = "passed" if cand["blessed"] else "MISSED"
    if cand.get("gate_evaluated_on") == CROSS_VALIDATION:
        verdict += " (on k-fold cross-validation)"
    if cand.get("vs_published"):
        verdict += f" ({vs_published_text(cand['vs_published'])})"
    lines = [
        f"candidate trained in plan at {cand['trained_at']} (int8 sha256 "
        f"{cand['sha256'][:12]}): {metrics} at threshold {cand['threshold']:.2f}; gate "
        f"{verdict}; apply adopts it (no retraining)"
    ]
    if cand.get("cross_validation"):
        lines.append("also " + crossval_line(cand["cross_validation"]))
    lines += comparison_lines(cand.get("comparison"), cand.get("champion"))
    return lines


NAMES = {
    "top1_accuracy": "top-1",
    "precision": "precision",
    "recall": "recall",
    "au_prc": "AuPRC",
    "log_loss": "log loss",
}


def vs_published_text(row: dict[str, Any]) -> str:
    """A judged ``gate.vs_published`` row: ``top1_accuracy vs published -0.291 [-0.392, -0.190],
    n=79: significantly worse than a drop of 0``."""
    iv = row.get("interval") or {}
    change = (
        f" {iv['value']:+.3f} [{iv['lo']:+.3f}, {iv['hi']:+.3f}], n={iv['n']}"
        if {"value", "lo", "hi", "n"} <= set(iv)
        else ""
    )
    verdict = "not significantly worse" if row["ok"] else "significantly worse"
    text = f"{row['metric']}{change}: {verdict} than a drop of {-row['bar']:g}"
    if row["ok"] and {"lo", "hi"} <= set(iv):
        # the improvement's interval (log loss: a fall is better) straddles the bar
        lo = -iv["hi"] if row["metric"].startswith("log_loss") else iv["lo"]
        if lo < row["bar"] <= row["value"]:  # Interval.straddles
            text += ", but the test split is too small to tell"
    return text


def comparison_lines(comparison: dict[str, Any] | None, champion: int | None) -> list[str]:
    """Champion -> candidate on the same test images, each change with its 95% interval."""
    if not comparison or champion is None:
        return []
    if "metrics" not in comparison:
        return [f"vs v{champion} (served): {comparison.get('note', 'no comparison')}"]
    n = comparison["n_examples"]
    out = [f"vs v{champion} (served), on the same {n} test images (95% intervals, paired):"]
    for m in comparison["metrics"]:
        a, b, d = m["champion"], m["candidate"], m["difference"]
        out.append(
            f"  {NAMES.get(m['metric'], m['metric'])} {a['value']:.3f} -> {b['value']:.3f}: "
            f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
        )
    mc = comparison["mcnemar"]
    out.append(
        f"  top-1: {mc['c']} images fixed, {mc['b']} broken; exact McNemar p = {mc['p']:.3g}"
    )
    return out
