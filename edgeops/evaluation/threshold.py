"""Picking a confidence threshold by rule, and checking a model version against its gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from edgeops.config.model import GateSpec, ModelSpec, ThresholdRule
from edgeops.evaluation.crossval import CROSS_VALIDATION, TEST_SPLIT, gated
from edgeops.evaluation.intervals import BARS, Interval, bar_warnings
from edgeops.evaluation.metrics import THRESHOLDS, Curve, Evaluation


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    met: bool = True  # False when the rule's target could not be reached (closest choice taken)
    note: str = ""  # why, for people, when not met
    per_label: dict[str, float] = field(default_factory=dict)  # multi-label: rule per label


@dataclass(frozen=True)
class GateRow:
    """One bar of a gate; ``ok`` is ``value >= bar``.

    A ``"bar"`` row: ``metric`` is ``precision``, ``recall`` or ``au_prc``, ``value`` the
    metric, ``interval`` its 95% interval when known. A ``"vs_published"`` row (see
    :func:`edgeops.evaluation.compare.apply_vs_published`): ``metric`` is e.g. ``au_prc vs
    published``, ``value`` the upper end of the 95% interval of the improvement over the
    published version, ``bar`` minus the allowed drop, ``interval`` the change (candidate -
    published) with its interval and n."""

    metric: str
    value: float
    bar: float
    ok: bool
    interval: Interval | None = None
    kind: Literal["bar", "vs_published"] = "bar"
    # what a bar read: "test_split", or "cross_validation" (gate.evaluate_on)
    evaluated_on: str = TEST_SPLIT

    def describe(self) -> str:
        """``precision 0.812 < 0.900 (95% CI 0.70–0.90, n=57)``; for a vs_published row the
        change and whether it is significantly worse."""
        if self.kind == "vs_published" and self.interval is not None:
            iv = self.interval
            verdict = "not significantly worse" if self.ok else "significantly worse"
            return (
                f"{self.metric}: change {iv.value:+.3f} ({iv.describe(3, signed=True)}), "
                f"{verdict} than a drop of {-self.bar:g}"
            )
        on = " (k-fold cross-validation)" if self.evaluated_on == CROSS_VALIDATION else ""
        text = f"{self.metric}{on} {self.value:.3f} {'>=' if self.ok else '<'} {self.bar:.3f}"
        if self.interval is not None:
            text += f" ({self.interval.describe()})"
        return text

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "metric": self.metric,
            "value": self.value,
            "bar": self.bar,
            "ok": self.ok,
        }
        if self.interval is not None:
            d["interval"] = self.interval.to_dict()
        if self.kind != "bar":
            d["kind"] = self.kind
        if self.evaluated_on != TEST_SPLIT:
            d["evaluated_on"] = self.evaluated_on
        return d


@dataclass(frozen=True)
class GateResult:
    passed: bool
    threshold: float
    rows: tuple[GateRow, ...] = ()
    # bars inside their metric's 95% interval: the test split cannot tell pass from miss
    warnings: tuple[str, ...] = ()

    @property
    def evaluated_on(self) -> str:
        """What the bars read: ``"cross_validation"`` when ``gate.evaluate_on`` asked for it
        and the version has one, else ``"test_split"``."""
        on = {r.evaluated_on for r in self.rows if r.kind == "bar"}
        return CROSS_VALIDATION if CROSS_VALIDATION in on else TEST_SPLIT

    def message(self) -> str:
        """The verdict and every bar, e.g. ``gate failed at threshold 0.50: precision 0.812 <
        0.900 (95% CI 0.70–0.90, n=57)``."""
        if not self.rows:
            return "no gate"
        parts = [r.describe() for r in self.rows]
        verdict = "passed" if self.passed else "failed"
        return f"gate {verdict} at threshold {self.threshold:.2f}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "passed": self.passed,
            "threshold": self.threshold,
            "rows": [r.to_dict() for r in self.rows],
        }
        if self.warnings:
            d["warnings"] = list(self.warnings)
        if self.evaluated_on != TEST_SPLIT:
            d["evaluated_on"] = self.evaluated_on
        return d


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
    """Compares overall (micro) precision/recall at ``threshold`` and AuPRC with the bars,
    each row with its metric's 95% interval when the evaluation has it, and a warning for
    every bar inside its interval (:func:`~edgeops.evaluation.intervals.bar_warnings`).
    The bars read the test split, or the version's k-fold cross-validation when
    ``gate.evaluate_on`` says so (:func:`~edgeops.evaluation.crossval.gated`).
    ``gate.vs_published`` needs the published version's scores:
    :func:`edgeops.evaluation.compare.with_vs_published` adds its row."""
    source, on, notes = gated(evaluation, gate)
    at = source.overall.at(threshold)
    values = {"precision": at["precision"], "recall": at["recall"], "au_prc": source.au_prc}
    intervals = source.intervals_at(threshold)
    rows: list[GateRow] = []
    for metric, bar_name in BARS:
        bar = getattr(gate, bar_name)
        if bar is not None:
            value = float(values[metric])
            ok = value >= float(bar)
            rows.append(GateRow(metric, value, float(bar), ok, intervals.get(metric), "bar", on))
    bars = {name: getattr(gate, name) for _, name in BARS}
    warnings = (*notes, *bar_warnings(intervals, bars, on))
    return GateResult(all(r.ok for r in rows), float(threshold), tuple(rows), warnings)


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
