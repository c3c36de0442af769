"""Evaluation metrics, thresholds and gates on small hand-checkable score tables."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from edgeops.config.model import GateSpec, ModelSpec, ThresholdRule
from edgeops.evaluation import (
    THRESHOLDS,
    Evaluation,
    apply_gate,
    average_precision,
    choose_threshold,
    evaluate_scores,
    judge,
)

LABELS = ("a", "b")
# image -> scores for (a, b); pairs sorted by score: .9T .8F .7T .6F .4T .3F .2T .1F
SCORES = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
TRUTH = [("a",), ("a",), ("b",), ("b",)]
IDS = ["img0", "img1", "img2", "img3"]


@pytest.fixture(scope="module")
def ev() -> Evaluation:
    return evaluate_scores(SCORES, TRUTH, LABELS, multi_label=False, image_ids=IDS)


def test_thresholds_grid() -> None:
    assert len(THRESHOLDS) == 101 and THRESHOLDS[0] == 0.0 and THRESHOLDS[-1] == 1.0
    assert THRESHOLDS[37] == 0.37


def test_summary_metrics(ev: Evaluation) -> None:
    assert ev.n_examples == 4
    assert ev.top1_accuracy == 0.5  # img0, img2 right; img1, img3 wrong
    assert ev.au_prc == pytest.approx((1 + 2 / 3 + 3 / 5 + 4 / 7) / 4, abs=1e-6)
    expected_ll = -(math.log(0.9) + math.log(0.4) + math.log(0.7) + math.log(0.2)) / 4
    assert ev.log_loss == pytest.approx(expected_ll, abs=1e-6)
    assert ev.confusion == ((1, 1), (1, 1))


def test_curve_points(ev: Evaluation) -> None:
    at = ev.overall.at(0.5)  # predicted: .9T .8F .7T .6F
    assert at == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "false_positive_rate": 0.5}
    assert ev.overall.at(0.0)["precision"] == 0.5 and ev.overall.at(0.0)["recall"] == 1.0
    assert ev.overall.at(0.15)["precision"] == pytest.approx(4 / 7, abs=1e-6)
    # nothing predicted at 1.0: precision 1 by convention, recall 0
    assert ev.overall.at(1.0)["precision"] == 1.0 and ev.overall.at(1.0)["recall"] == 0.0
    a = ev.label_metrics("a")
    assert a.support == 2
    # label a: .9T .8F .4T .3F -> at 0.5: .9T .8F
    assert a.curve.at(0.5) == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "false_positive_rate": 0.5,
    }
    assert a.curve.at(0.85) == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3, abs=1e-6),
        "false_positive_rate": 0.0,
    }


def test_average_precision_matches_sklearn_when_present() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    s = rng.random(200).round(2)  # ties included
    y = rng.random(200) < 0.3
    assert average_precision(s, y) == pytest.approx(
        sklearn_metrics.average_precision_score(y, s), abs=1e-9
    )


def test_worst_mistakes_most_confident_first(ev: Evaluation) -> None:
    assert [(m.image_id, m.predicted, m.score) for m in ev.mistakes] == [
        ("img3", "a", 0.8),
        ("img1", "b", 0.6),
    ]
    assert ev.mistakes[0].true_labels == ("b",)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (ThresholdRule(value=0.42), 0.42),
        (ThresholdRule(target_precision=0.99), 0.81),  # only .9T above 0.8
        (ThresholdRule(target_recall=0.75), 0.40),  # needs .9 .7 .4
        (ThresholdRule(max_f1=True), 0.11),  # F1 8/11 on (0.1, 0.2], lowest taken
    ],
)
def test_threshold_rules(ev: Evaluation, rule: ThresholdRule, expected: float) -> None:
    assert choose_threshold(ev, rule).threshold == pytest.approx(expected)
    assert choose_threshold(ev, rule).met


def test_unreachable_precision_is_flagged_not_silent() -> None:
    ev = evaluate_scores(
        np.array([[0.6, 0.4], [0.7, 0.3]]), [("b",), ("a",)], LABELS, multi_label=False
    )
    # pairs: .7T .6F .4T .3F -> precision 1.0 from 0.61
    choice = choose_threshold(ev, ThresholdRule(target_precision=0.99))
    assert choice.met and choice.threshold == pytest.approx(0.61)
    bad = evaluate_scores(
        np.array([[0.9, 0.1], [0.2, 0.8]]), [("b",), ("a",)], LABELS, multi_label=False
    )  # the top scores are always wrong
    choice = choose_threshold(bad, ThresholdRule(target_precision=0.9))
    assert not choice.met and "no threshold reaches precision 0.9" in choice.note
    assert bad.overall.at(choice.threshold)["recall"] > 0


def test_gate_rows(ev: Evaluation) -> None:
    gate = apply_gate(ev, 0.5, GateSpec(min_precision=0.6, min_recall=0.5, min_au_prc=0.7))
    assert not gate.passed
    assert [(r.metric, r.value, r.bar, r.ok) for r in gate.rows] == [
        ("precision", 0.5, 0.6, False),
        ("recall", 0.5, 0.5, True),
        ("au_prc", ev.au_prc, 0.7, True),
    ]
    assert "precision 0.500 < 0.600" in gate.message()
    assert apply_gate(ev, 0.5, GateSpec()).passed
    assert apply_gate(ev, 0.85, GateSpec(min_precision=1.0)).passed


def test_judge_checks_the_gate_at_the_threshold_the_rule_picks(ev: Evaluation) -> None:
    spec = ModelSpec(
        name="m",
        dataset="d",
        threshold=ThresholdRule(target_precision=0.99),
        gate=GateSpec(min_precision=1.0),
    )
    j = judge(ev, spec)
    assert j.threshold == pytest.approx(0.81) and j.choice.met  # only .9T above it
    assert j.gate.passed and j.gate.threshold == j.threshold
    missed = judge(ev, replace(spec, gate=GateSpec(min_precision=1.0, min_recall=0.5)))
    assert missed.threshold == j.threshold
    assert not missed.gate.passed
    assert [r.metric for r in missed.gate.rows if not r.ok] == ["recall"]  # 1 of 4 at 0.81


def test_multi_label_per_label_thresholds() -> None:
    scores = np.array([[0.9, 0.8], [0.2, 0.7], [0.6, 0.1], [0.3, 0.4]])
    truth = [("a", "b"), ("b",), ("a",), ("b",)]
    ev = evaluate_scores(scores, truth, LABELS, multi_label=True)
    assert ev.multi_label and ev.top1_accuracy == 1.0
    choice = choose_threshold(ev, ThresholdRule(max_f1=True))
    # a: positives .9 .6, negatives .2 .3 -> perfect split above .3; b: all of .8 .7 .4 true
    assert choice.per_label == {"a": pytest.approx(0.31), "b": pytest.approx(0.11)}
    expected = -np.mean(
        [
            math.log(p) if t else math.log(1 - p)
            for p, t in zip(
                [0.9, 0.8, 0.2, 0.7, 0.6, 0.1, 0.3, 0.4], [1, 1, 0, 1, 1, 0, 0, 1], strict=True
            )
        ]
    )
    assert ev.log_loss == pytest.approx(expected, abs=1e-6)


def test_json_round_trip(ev: Evaluation) -> None:
    text = json.dumps(ev.to_dict())
    back = Evaluation.from_dict(json.loads(text))
    assert back == ev


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate_scores(np.zeros((2, 3)), [("a",), ("b",)], LABELS, multi_label=False)
    with pytest.raises(ValueError, match="empty"):
        evaluate_scores(np.zeros((0, 2)), [], LABELS, multi_label=False)
    d = evaluate_scores(SCORES, TRUTH, LABELS, multi_label=False).to_dict()
    d["format_version"] = 99
    with pytest.raises(ValueError, match="format_version"):
        Evaluation.from_dict(d)


# ---- intervals ---------------------------------------------------------------------------------


def test_curves_keep_the_counts_behind_each_proportion(ev: Evaluation) -> None:
    c = ev.overall.counts
    assert c is not None and (c.positives, c.negatives) == (4, 4)
    i = 50  # threshold 0.5: .9T .8F .7T .6F predicted
    assert (c.true_positives[i], c.predicted[i]) == (2, 4)
    a = ev.label_metrics("a").curve.counts
    assert a is not None and (a.positives, a.negatives) == (2, 2)


def test_intervals_at_the_threshold(ev: Evaluation) -> None:
    from edgeops.evaluation.intervals import wilson

    iv = ev.intervals_at(0.5)
    assert set(iv) == {
        "top1_accuracy",
        "au_prc",
        "log_loss",
        "precision",
        "recall",
        "f1",
        "false_positive_rate",
    }
    assert (iv["precision"].lo, iv["precision"].hi) == pytest.approx(wilson(2, 4))
    assert (iv["precision"].value, iv["precision"].n, iv["precision"].method) == (0.5, 4, "wilson")
    assert iv["recall"].n == 4 and iv["false_positive_rate"].n == 4
    assert (iv["top1_accuracy"].lo, iv["top1_accuracy"].hi) == pytest.approx(wilson(2, 4))
    for name in ("au_prc", "log_loss", "f1"):
        assert iv[name].method == "bootstrap" and iv[name].n == 4
        assert iv[name].lo <= iv[name].value <= iv[name].hi
    assert iv["au_prc"].value == ev.au_prc
    label = ev.label_metrics("a").intervals_at(0.5, ev.n_examples)
    assert label["recall"].n == 2 and label["au_prc"].method == "bootstrap"
    # nothing predicted at 1.0: precision 1 by convention, an interval of (0, 1) on n=0
    at_one = ev.intervals_at(1.0)["precision"]
    assert (at_one.value, at_one.lo, at_one.hi, at_one.n) == (1.0, 0.0, 1.0, 0)


def test_intervals_are_seeded(ev: Evaluation) -> None:
    assert evaluate_scores(SCORES, TRUTH, LABELS, multi_label=False, image_ids=IDS) == ev
    bare = evaluate_scores(SCORES, TRUTH, LABELS, multi_label=False, resamples=0)
    assert bare.au_prc_ci is None and bare.overall.f1_ci is None
    assert bare.overall.counts == ev.overall.counts  # counts need no resampling


def test_an_evaluation_written_before_intervals_loads_without_them(ev: Evaluation) -> None:
    d = json.loads(json.dumps(ev.to_dict()))
    for key in ("au_prc_ci", "log_loss_ci"):
        del d[key]
    del d["overall"]["counts"], d["overall"]["f1_ci"]
    for m in d["per_label"]:
        del m["au_prc_ci"], m["curve"]["counts"], m["curve"]["f1_ci"]
    old = Evaluation.from_dict(d)
    assert old.overall.counts is None and old.au_prc_ci is None
    assert set(old.intervals_at(0.5)) == {"top1_accuracy"}  # derived from accuracy and n
    assert old.label_metrics("a").intervals_at(0.5, 4) == {}
    gate = apply_gate(old, 0.5, GateSpec(min_precision=0.4))
    assert gate.rows[0].interval is None and gate.warnings == ()
    assert gate.message() == "gate passed at threshold 0.50: precision 0.500 >= 0.400"


def test_gate_rows_carry_intervals_and_warn_when_the_bar_is_inside(ev: Evaluation) -> None:
    gate = apply_gate(ev, 0.5, GateSpec(min_precision=0.4, min_recall=0.05))
    precision = gate.rows[0]
    assert precision.interval == ev.intervals_at(0.5)["precision"]
    lo, hi = precision.interval.lo, precision.interval.hi
    assert gate.message() == (
        "gate passed at threshold 0.50: "
        f"precision 0.500 >= 0.400 (95% CI {lo:.2f}–{hi:.2f}, n=4), "
        f"recall 0.500 >= 0.050 (95% CI {lo:.2f}–{hi:.2f}, n=4)"
    )
    # 0.4 lies inside precision's interval (0.15–0.85); 0.05 is below recall's
    assert gate.warnings == (
        f"test split too small to support min_precision 0.4: precision 0.50, "
        f"95% CI {lo:.2f}–{hi:.2f}, n=4",
    )
    d = gate.to_dict()
    assert d["warnings"] == list(gate.warnings)
    assert d["rows"][0]["interval"] == precision.interval.to_dict()  # type: ignore[index]
