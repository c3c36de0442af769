"""Picking a confidence threshold by rule, and checking a model version against its gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeops.config.model import GateSpec, ModelSpec, ThresholdRule
from edgeops.evaluation.metrics import THRESHOLDS, Curve, Evaluation


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    met: bool = True  # False when the rule's target could not be reached (closest choice taken)
    note: str = ""  # why, for people, when not met
    per_label: dict[str, float] = field(default_factory=dict)  # multi-label: rule per label


@dataclass(frozen=True)
class GateRow:
    metric: str  # "precision" | "recall" | "au_prc"
    value: float
    bar: float
    ok: bool


@dataclass(frozen=True)
class GateResult:
    passed: bool
    threshold: float
    rows: tuple[GateRow, ...] = ()

    def message(self) -> str:
        """One line per failed bar, e.g. ``precision 0.812 < 0.900 at threshold 0.50``."""
        if not self.rows:
            return "no gate"
        parts = [f"{r.metric} {r.value:.3f} {'>=' if r.ok else '<'} {r.bar:.3f}" for r in self.rows]
        verdict = "passed" if self.passed else "failed"
        return f"gate {verdict} at threshold {self.threshold:.2f}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "threshold": self.threshold,
            "rows": [
                {"metric": r.metric, "value": r.value, "bar": r.bar, "ok": r.ok} for r in self.rows
            ],
        }


def _choose_on_curve(curve: Curve, rule: ThresholdRule) -> ThresholdChoice:
    if rule.value is not None:
        return ThresholdChoice(float(rule.value))
    if rule.target_precision is not None:
        target = rule.target_precision
        # Only thresholds that still predict something count: with no prediction at all the
        # precision is 1.0 by convention, which is no answer to "reach this precision".
        live = [i for i in range(len(THRESHOLDS)) if curve.recall[i] > 0] or [0]
        for i in live:
            if curve.precision[i] >= target:
                return ThresholdChoice(THRESHOLDS[i])
        best = max(live, key=lambda i: (curve.precision[i], -i))
        return ThresholdChoice(
            THRESHOLDS[best],
            met=False,
            note=f"no threshold reaches precision {target:g}; took the most precise one "
            f"({curve.precision[best]:.3f} at {THRESHOLDS[best]:.2f})",
        )
    if rule.target_recall is not None:
        target = rule.target_recall
        for i in range(len(THRESHOLDS) - 1, -1, -1):
            if curve.recall[i] >= target:
                return ThresholdChoice(THRESHOLDS[i])
        best = max(range(len(THRESHOLDS)), key=lambda i: (curve.recall[i], i))
        return ThresholdChoice(
            THRESHOLDS[best],
            met=False,
            note=f"no threshold reaches recall {target:g}; took the one with most recall "
            f"({curve.recall[best]:.3f} at {THRESHOLDS[best]:.2f})",
        )
    # max_f1: the first (lowest) threshold with the highest F1
    best = max(range(len(THRESHOLDS)), key=lambda i: (curve.f1[i], -i))
    return ThresholdChoice(THRESHOLDS[best])


def choose_threshold(evaluation: Evaluation, rule: ThresholdRule) -> ThresholdChoice:
    """The overall threshold for ``rule`` (and, for multi-label models, one per label).

    - value: that value;
    - target_precision: the lowest threshold whose precision >= target among thresholds that
      still predict something (recall > 0); if none, the most precise one, flagged ``met=False``;
    - target_recall: the highest threshold whose recall >= target;
    - max_f1: the threshold with the highest F1 (the lowest one on ties).
    """
    overall = _choose_on_curve(evaluation.overall, rule)
    if not evaluation.multi_label:
        return overall
    per_label = {m.label: _choose_on_curve(m.curve, rule).threshold for m in evaluation.per_label}
    return ThresholdChoice(overall.threshold, overall.met, overall.note, per_label)


def apply_gate(evaluation: Evaluation, threshold: float, gate: GateSpec) -> GateResult:
    """Compares overall (micro) precision/recall at ``threshold`` and AuPRC with the bars."""
    at = evaluation.overall.at(threshold)
    rows: list[GateRow] = []
    for metric, bar, value in (
        ("precision", gate.min_precision, at["precision"]),
        ("recall", gate.min_recall, at["recall"]),
        ("au_prc", gate.min_au_prc, evaluation.au_prc),
    ):
        if bar is not None:
            rows.append(GateRow(metric, float(value), float(bar), float(value) >= float(bar)))
    return GateResult(all(r.ok for r in rows), float(threshold), tuple(rows))


@dataclass(frozen=True)
class Judgement:
    """A version judged by a model's rules: the threshold its rule picks, the gate at it."""

    choice: ThresholdChoice
    gate: GateResult

    @property
    def threshold(self) -> float:
        return self.choice.threshold


def judge(evaluation: Evaluation, spec: ModelSpec) -> Judgement:
    """How every backend blesses a version: pick the threshold by ``spec.threshold``, then
    check ``spec.gate`` at it (blessed when ``gate.passed``)."""
    choice = choose_threshold(evaluation, spec.threshold)
    return Judgement(choice, apply_gate(evaluation, choice.threshold, spec.gate))
