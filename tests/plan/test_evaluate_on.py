"""`gate.evaluate_on`: a change of it alone re-evaluates (no retraining), and the plan says when a
gate reads k-fold cross-validation rather than the test split."""

from __future__ import annotations

from dataclasses import replace

from edgeops.config.model import GateSpec
from edgeops.plan import candidates, preview
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import (
    CANDIDATE,
    PREVIEWED,
    RECORDED,
    Action,
    Change,
    GateOutlook,
    Plan,
)
from edgeops.plan.render import _gate_lines, render_markdown
from edgeops.state import LiveCandidate

from .factories import dataset, desired, imgs, live, live_dataset, live_model, model, version

BASE = imgs({"cat": range(0, 6), "dog": range(6, 12)})
DS = dataset("pets", BASE)
LDS = live_dataset("pets", BASE)
M = model("pets", DS, gate=GateSpec(min_precision=0.8))
M_CV = model("pets", DS, gate=GateSpec(min_precision=0.8, evaluate_on="cross_validation"))

CV_RECORD = {
    "label": "k-fold cross-validation of the head on float features, train+validation, k=5, "
    "n=80 (not the int8 file)",
    "k": 5,
    "n": 80,
    "splits": ["train", "validation"],
    "precision": 0.9,
    "recall": 0.85,
    "au_prc": 0.93,
    "top1_accuracy": 0.9,
    "intervals": {
        "precision": {"value": 0.9, "lo": 0.81, "hi": 0.95, "n": 80, "method": "wilson"},
    },
}


def _cv_version() -> object:
    v = version(M_CV, 1)
    return replace(v, metrics={**v.metrics, "gate_spec": M_CV.spec.gate.recorded()})


def test_choosing_cross_validation_re_evaluates_without_retraining() -> None:
    plan = build_plan(desired(DS, M_CV), live(LDS, live_model(version(M, 1))), config_path="x")
    (change,) = plan.changes
    assert change.action == Action.EVALUATE
    assert "gate evaluate_on test_split -> cross_validation" in change.reason


def test_going_back_to_the_test_split_re_evaluates_too() -> None:
    plan = build_plan(desired(DS, M), live(LDS, live_model(_cv_version())), config_path="x")
    (change,) = plan.changes
    assert change.action == Action.EVALUATE
    assert "gate evaluate_on cross_validation -> test_split" in change.reason


def test_the_default_keeps_versions_recorded_before_it_unchanged() -> None:
    assert M.spec.gate.recorded() == {"min_precision": 0.8, "min_recall": None, "min_au_prc": None}
    plan = build_plan(desired(DS, M), live(LDS, live_model(version(M, 1))), config_path="x")
    assert plan.changes == ()
    plan = build_plan(desired(DS, M_CV), live(LDS, live_model(_cv_version())), config_path="x")
    assert plan.changes == ()


def _outlook(**kw: object) -> GateOutlook:
    base = dict(
        model="pets",
        version=1,
        decided=RECORDED,
        passed=True,
        threshold=0.5,
        precision=0.9,
        recall=0.85,
        au_prc=0.93,
        bars={"min_precision": 0.8, "min_recall": None, "min_au_prc": None},
        intervals=CV_RECORD["intervals"],
        evaluated_on="cross_validation",
    )
    return GateOutlook(**{**base, **kw})  # type: ignore[arg-type]


def test_a_recorded_gate_on_cross_validation_says_so() -> None:
    (line, *warnings) = _gate_lines(_outlook())
    assert "gate of pets v1 at threshold 0.50 on k-fold cross-validation" in line
    assert "precision 0.900 ≥ 0.8 (95% CI 0.81–0.95, n=80)" in line
    assert warnings == []
    (line, *_) = _gate_lines(_outlook(evaluated_on="test_split"))
    assert "cross-validation" not in line
    assert GateOutlook.from_dict(_outlook().to_dict()) == _outlook()


def test_a_previewed_gate_on_cross_validation_labels_its_numbers() -> None:
    change = Change(
        address="model.pets",
        action=Action.EVALUATE,
        reason="gate changed",
        before={"threshold": 0.5, "precision": 0.7, "recall": 0.6},
        gates=(_outlook(decided=PREVIEWED),),
    )
    (line,) = preview.describe(change)
    assert "threshold 0.500 -> 0.500" in line
    assert "cross-validated precision 0.900, cross-validated recall 0.850" in line
    assert "gate passes (on k-fold cross-validation, train+validation)" in line


def test_a_candidate_shows_its_cross_validation_in_text_and_markdown() -> None:
    cand = LiveCandidate(
        model="pets",
        fingerprint=M.fingerprint,
        eval_fingerprint=M.eval_fingerprint,
        trained_at="2025-01-01T00:00:00+00:00",
        sha256="ab" * 32,
        blessed=True,
        threshold=0.5,
        metrics={
            "summary": {"precision": 0.6, "recall": 0.5, "au_prc": 0.7, "test_images": 21},
            "cross_validation": CV_RECORD,
            "gate": {"evaluated_on": "cross_validation"},
            "gate_spec": M_CV.spec.gate.recorded(),
        },
        stop_reason="MODEL_CONVERGED",
        cost_node_hours=0.01,
        files={},
    )
    plan = build_plan(desired(DS, M), live(LDS), config_path="x")
    plan = candidates.with_candidates(plan, {"model.pets": cand})
    (change,) = plan.changes
    lines = candidates.describe(change)
    assert "gate passed (on k-fold cross-validation)" in lines[0]
    assert "precision 0.600" in lines[0]  # the test split's, as ever
    assert lines[1].startswith("also k-fold cross-validation of the head on float features")
    assert "precision 0.900 (95% CI 0.81–0.95, n=80)" in lines[1]
    (gate,) = change.gates
    assert gate.decided == CANDIDATE and gate.evaluated_on == "cross_validation"
    assert gate.precision == 0.9 and "evaluate_on" not in gate.bars
    md = render_markdown(Plan.from_dict(plan.to_dict()))
    assert "Small test splits, also:" in md and "n=80" in md
