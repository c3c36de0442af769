"""Cross-validated metrics beside a small test split: kept with the evaluation, recorded with the
version, read by the gate only when ``gate.evaluate_on`` says so, and labelled wherever shown."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from edgeops.config.model import GateSpec
from edgeops.evaluation import Evaluation, apply_gate, crossval, evaluate_scores, render_html
from edgeops.state import LiveModel, LiveState, LiveVersion
from edgeops.views.evaluation import render_evaluation
from edgeops.views.show import render_live

LABELS = ("cat", "dog")


def _scores(n: int, right: int, seed: int) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """``n`` images, the first ``right`` of them scored right with confidence 0.8."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    top = np.where(np.arange(n) < right, truth, 1 - truth)
    scores = np.where(np.arange(2)[None, :] == top[:, None], 0.8, 0.2)
    return scores, [(LABELS[t],) for t in truth]


def _evaluation(with_cv: bool = True) -> Evaluation:
    s, y = _scores(12, 6, seed=0)  # the test split: 50% right
    test = evaluate_scores(s, y, LABELS, multi_label=False, resamples=200)
    if not with_cv:
        return test
    s, y = _scores(80, 72, seed=1)  # train+validation, out of fold: 90% right
    cv = evaluate_scores(s, y, LABELS, multi_label=False, extra=crossval.extra(5), resamples=200)
    return replace(test, cross_validation=cv)


def test_the_cross_validation_round_trips_with_the_evaluation() -> None:
    ev = _evaluation()
    back = Evaluation.from_dict(json.loads(json.dumps(ev.to_dict())))
    assert back == ev and back.cross_validation is not None
    assert back.cross_validation.n_examples == 80
    assert "cross_validation" not in _evaluation(with_cv=False).to_dict()


def test_wanted_for_small_test_splits_or_when_the_gate_reads_it() -> None:
    assert crossval.wanted(49, GateSpec()) and not crossval.wanted(50, GateSpec())
    assert crossval.wanted(500, GateSpec(evaluate_on="cross_validation"))


def test_gates_read_the_test_split_unless_told_otherwise() -> None:
    ev = _evaluation()
    bar = GateSpec(min_precision=0.8)
    on_test = apply_gate(ev, 0.5, bar)
    assert not on_test.passed and on_test.evaluated_on == "test_split"
    assert "evaluated_on" not in on_test.to_dict()

    on_cv = apply_gate(ev, 0.5, replace(bar, evaluate_on="cross_validation"))
    assert on_cv.passed and on_cv.evaluated_on == "cross_validation"
    (row,) = on_cv.rows
    assert row.value == pytest.approx(0.9) and row.interval is not None and row.interval.n == 80
    assert row.to_dict()["evaluated_on"] == "cross_validation"
    assert on_cv.to_dict()["evaluated_on"] == "cross_validation"
    assert "precision (k-fold cross-validation) 0.900 >= 0.800 (95% CI" in on_cv.message()


def test_a_gate_on_cross_validation_without_one_reads_the_test_split_and_says_so() -> None:
    gate = apply_gate(
        _evaluation(with_cv=False), 0.5, GateSpec(min_precision=0.4, evaluate_on="cross_validation")
    )
    assert gate.evaluated_on == "test_split" and gate.rows[0].value == pytest.approx(0.5)
    assert any("has no cross-validated metrics" in w for w in gate.warnings)


def test_bar_warnings_name_the_cross_validation() -> None:
    gate = apply_gate(
        _evaluation(), 0.5, GateSpec(min_precision=0.88, evaluate_on="cross_validation")
    )
    assert any(w.startswith("k-fold cross-validation too small to support") for w in gate.warnings)


def test_record_and_gated_summary() -> None:
    ev = _evaluation()
    assert ev.cross_validation is not None
    recorded = crossval.record(ev.cross_validation, 0.5)
    assert (
        recorded["k"] == 5
        and recorded["n"] == 80
        and recorded["splits"]
        == [
            "train",
            "validation",
        ]
    )
    assert recorded["precision"] == pytest.approx(0.9)
    assert recorded["intervals"]["au_prc"]["method"] == "bootstrap"
    assert recorded["label"].startswith("k-fold cross-validation of the head on float features")
    metrics = {"summary": {"precision": 0.5}, "cross_validation": recorded, "gate": {}}
    assert crossval.gated_summary(metrics) == ({"precision": 0.5}, "test_split")
    metrics["gate"] = {"evaluated_on": "cross_validation"}
    assert crossval.gated_summary(metrics) == (recorded, "cross_validation")
    line = crossval.summary_line(recorded)
    assert "train+validation, k=5, n=80" in line and "precision 0.900 (95% CI" in line
    assert crossval.summary_line(None) == ""


def test_eval_text_and_html_show_it_labelled() -> None:
    ev = _evaluation()
    gate = apply_gate(ev, 0.5, GateSpec(min_precision=0.8))
    text = render_evaluation("model.pets v1", ev, 0.5, gate, width=200)
    assert "NOT the test split: k-fold cross-validation" in text
    assert "k-fold cross-validation of the head on float features, train+validation" in text
    assert "12 test images" in text  # the test split stays the headline
    assert "cross-validation" not in render_evaluation(
        "model.pets v1", _evaluation(with_cv=False), 0.5, gate, width=200
    )
    html = render_html(ev, title="model.pets v1", threshold=0.5, gate=gate)
    assert "<h2>Cross-validation (not the test split)</h2>" in html
    assert "n=80" in html


def test_show_lists_the_recorded_cross_validation() -> None:
    ev = _evaluation()
    assert ev.cross_validation is not None
    v = LiveVersion(
        model="pets",
        version=3,
        fingerprint="f",
        eval_fingerprint="e",
        status="ready",
        blessed=True,
        threshold=0.5,
        metrics={
            "summary": ev.summary_at(0.5),
            "cross_validation": crossval.record(ev.cross_validation, 0.5),
        },
    )
    live = LiveState(backend="local", models={"model.pets": LiveModel("model.pets", (v,))})
    text = render_live(live, width=300)
    assert "v3: also k-fold cross-validation of the head on float features" in text
