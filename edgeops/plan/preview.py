"""Threshold and gate changes previewed: a change of threshold rule or gate alone re-judges a
stored evaluation, so the plan can show the new threshold, precision, recall and verdict before
apply (which records exactly that). Pure: the verdicts come in, the plan goes out."""

from __future__ import annotations

from dataclasses import replace

from edgeops.addresses import model_address
from edgeops.evaluation.crossval import CROSS_VALIDATION
from edgeops.plan.candidates import vs_published_text
from edgeops.plan.definition import AT_APPLY, Action, Change, GateOutlook, Plan


def previewed(plan: Plan, verdicts: dict[str, GateOutlook]) -> Plan:
    """``verdicts``: model address -> the gate of the version its EVALUATE change re-judges.
    Each re-evaluation carries its verdict; publish changes that would serve that version show
    it instead of "decided at apply"."""
    if not verdicts:
        return plan
    changes = []
    for c in plan.changes:
        if c.action == Action.EVALUATE and c.address in verdicts:
            c = replace(c, gates=(verdicts[c.address],))
        elif c.kind == "publish" and c.gates:
            c = replace(c, gates=tuple(_known(g, verdicts) for g in c.gates))
        changes.append(c)
    return replace(plan, changes=tuple(changes))


def _known(g: GateOutlook, verdicts: dict[str, GateOutlook]) -> GateOutlook:
    v = verdicts.get(model_address(g.model))
    if g.decided != AT_APPLY or v is None or v.version != g.version or g.version is None:
        return g
    return replace(v, role=g.role, percent=g.percent)


def describe(c: Change) -> list[str]:
    """Lines for a previewed re-evaluation: old -> new threshold, precision, recall, verdict."""
    if c.action != Action.EVALUATE or not c.gates:
        return []
    g, old = c.gates[0], c.before or {}
    parts = []
    cv = g.evaluated_on == CROSS_VALIDATION  # `before` holds test-split numbers: no arrows
    for name, now in (("threshold", g.threshold), ("precision", g.precision), ("recall", g.recall)):
        if now is None:
            continue
        was = old.get(name)
        if cv and name != "threshold":
            name, was = f"cross-validated {name}", None
        parts.append(f"{name} {was:.3f} -> {now:.3f}" if was is not None else f"{name} {now:.3f}")
    verdict = "passes" if g.passed else "MISSES"
    if cv:
        verdict += " (on k-fold cross-validation, train+validation)"
    if g.vs_published:  # judged on the comparison the version recorded when it was trained
        verdict += f" ({vs_published_text(g.vs_published)})"
    return [f"previewed from the stored evaluation: {', '.join(parts)}; gate {verdict}"]
