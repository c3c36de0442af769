"""Champion vs candidate on a table small enough to check by hand, and the vs_published gate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgeops.config.model import GateSpec, VsPublished
from edgeops.evaluation import evaluate_scores
from edgeops.evaluation.compare import (
    Comparison,
    apply_vs_published,
    compare,
    vs_published_warnings,
    with_vs_published,
)
from edgeops.evaluation.intervals import wilson
from edgeops.evaluation.threshold import GateResult, GateRow

LABELS = ("a", "b")
TRUTH = [("a",), ("a",), ("a",), ("b",), ("b",), ("b",)]
IDS = [f"img{i}" for i in range(6)]
# top-1:          right  wrong  right  right  wrong  right
CHAMPION = np.array([[0.9, 0.1], [0.3, 0.7], [0.8, 0.2], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
# top-1:          right  right  wrong  right  right  right   (img1, img4 fixed; img2 broken)
CANDIDATE = np.array([[0.7, 0.3], [0.6, 0.4], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8], [0.2, 0.8]])


@pytest.fixture(scope="module")
def cmp() -> Comparison:
    return compare(
        CHAMPION,
        CANDIDATE,
        TRUTH,
        LABELS,
        multi_label=False,
        champion_threshold=0.5,
        candidate_threshold=0.5,
        image_ids=IDS,
        resamples=500,
    )


def test_fixed_and_broken_images_and_mcnemar(cmp: Comparison) -> None:
    assert cmp.fixed == ("img1", "img4") and cmp.broken == ("img2",)
    assert cmp.mcnemar_counts == (1, 2)
    assert cmp.mcnemar_p == 1.0  # 2 * P(X <= 1), X ~ Bin(3, 1/2) = 2 * 4/8, capped


def test_top1_precision_recall_by_hand(cmp: Comparison) -> None:
    top1 = cmp.metric("top1_accuracy")
    assert (top1.champion.value, top1.candidate.value) == pytest.approx((4 / 6, 5 / 6))
    assert top1.difference.value == pytest.approx(1 / 6)
    assert (top1.champion.lo, top1.champion.hi) == pytest.approx(wilson(4, 6))
    assert top1.champion.method == "wilson" and top1.champion.n == 6
    # at 0.5 the champion predicts one label per image: .9T .7F .8T .8T .6F .9T
    precision = cmp.metric("precision")
    assert (precision.champion.value, precision.candidate.value) == pytest.approx((4 / 6, 5 / 6))
    assert (precision.champion.lo, precision.champion.hi) == pytest.approx(wilson(4, 6))
    assert precision.champion.n == 6  # predicted pairs
    recall = cmp.metric("recall")
    assert recall.candidate.value == pytest.approx(5 / 6) and recall.candidate.n == 6
    for m in cmp.metrics:
        d = m.difference
        assert d.method == "bootstrap" and d.n == 6 and d.lo <= d.value <= d.hi
        assert d.value == pytest.approx(m.candidate.value - m.champion.value)


def test_metrics_agree_with_each_models_evaluation(cmp: Comparison) -> None:
    for scores, side in ((CHAMPION, "champion"), (CANDIDATE, "candidate")):
        ev = evaluate_scores(scores, TRUTH, LABELS, multi_label=False, resamples=0)
        values = {m.metric: getattr(m, side).value for m in cmp.metrics}
        assert values == pytest.approx(
            {
                "top1_accuracy": ev.top1_accuracy,
                "precision": ev.overall.at(0.5)["precision"],
                "recall": ev.overall.at(0.5)["recall"],
                "au_prc": ev.au_prc,
                "log_loss": ev.log_loss,
            },
            abs=1e-6,
        )
        for delta in cmp.per_label:
            lm = ev.label_metrics(delta.label)
            assert delta.support == lm.support == 3
            assert getattr(delta.au_prc, side).value == pytest.approx(lm.au_prc, abs=1e-6)
            assert getattr(delta.recall, side).value == pytest.approx(
                lm.curve.at(0.5)["recall"], abs=1e-6
            )


def test_each_model_is_judged_at_its_own_threshold() -> None:
    c = compare(
        CHAMPION,
        CHAMPION,
        TRUTH,
        LABELS,
        multi_label=False,
        champion_threshold=0.5,
        candidate_threshold=0.85,  # only .9 .9 predicted, both right
        image_ids=IDS,
        resamples=100,
    )
    precision = c.metric("precision")
    assert precision.candidate.value == 1.0 and precision.candidate.n == 2
    assert c.metric("recall").candidate.value == pytest.approx(2 / 6)
    assert c.metric("au_prc").difference.value == 0.0  # threshold-free
    assert c.fixed == c.broken == ()


def test_json_round_trip(cmp: Comparison) -> None:
    d = json.loads(json.dumps(cmp.to_dict()))
    assert d["mcnemar"] == {"b": 1, "c": 2, "p": 1.0}
    assert d["bootstrap"] == {"resamples": 500, "seed": 0}
    assert Comparison.from_dict(d) == cmp
    d["format_version"] = 2
    with pytest.raises(ValueError, match="format_version"):
        Comparison.from_dict(d)


def test_rejects_unpaired_input() -> None:
    with pytest.raises(ValueError, match="candidate scores have shape"):
        compare(
            CHAMPION,
            CANDIDATE[:5],
            TRUTH,
            LABELS,
            multi_label=False,
            champion_threshold=0.5,
            candidate_threshold=0.5,
            image_ids=IDS,
        )


# ---- significantly worse, and the vs_published gate ------------------------------------------

N = 200
RIGHT = np.tile([0.9, 0.1], (N, 1))  # every image is an "a", always right
WORSE = RIGHT.copy()
WORSE[:80] = [0.3, 0.7]  # 80 of 200 broken
BIG_TRUTH = [("a",)] * N
BIG_IDS = [f"i{i}" for i in range(N)]


def _compare(champion: np.ndarray, candidate: np.ndarray) -> Comparison:
    return compare(
        champion,
        candidate,
        BIG_TRUTH,
        LABELS,
        multi_label=False,
        champion_threshold=0.5,
        candidate_threshold=0.5,
        image_ids=BIG_IDS,
        resamples=500,
    )


def test_a_clearly_worse_candidate_is_significantly_worse_and_blocked() -> None:
    c = _compare(RIGHT, WORSE)
    assert len(c.broken) == 80 and c.fixed == ()
    assert c.mcnemar_p < 1e-20
    top1 = c.metric("top1_accuracy")
    assert top1.difference.value == pytest.approx(-0.4) and top1.difference.hi < -0.3
    assert c.significantly_worse("top1_accuracy", max_drop=0.01)
    assert not c.significantly_worse("top1_accuracy", max_drop=0.5)  # a drop up to 0.5 is fine
    gate = GateSpec(min_precision=0.5, vs_published=VsPublished("top1_accuracy", 0.01))
    row = apply_vs_published(c, gate)
    assert row is not None and not row.ok and row.kind == "vs_published"
    assert (row.metric, row.bar) == ("top1_accuracy vs published", -0.01)
    assert row.value == top1.difference.hi and row.value < row.bar  # reads like any gate row
    assert row.describe().startswith("top1_accuracy vs published: change -0.400 (95% CI -0.")
    assert "significantly worse than a drop of 0.01" in row.describe()
    passing = GateResult(True, 0.5, (GateRow("precision", 0.6, 0.5, True),))
    judged = with_vs_published(passing, c, gate)
    assert not judged.passed and judged.rows[-1] == row
    assert vs_published_warnings(c, gate) == ()  # conclusive


def test_log_loss_worse_means_higher() -> None:
    c = _compare(RIGHT, np.tile([0.6, 0.4], (N, 1)))  # right, but less sure: loss rises
    ll = c.metric("log_loss")
    assert ll.difference.value > 0 and ll.improvement().hi < 0
    assert c.significantly_worse("log_loss", 0.01)
    assert not c.significantly_worse("au_prc", 0.0)  # the ranking is unchanged


def test_an_equal_candidate_passes_without_warning() -> None:
    c = _compare(RIGHT, RIGHT)
    gate = GateSpec(vs_published=VsPublished("au_prc", 0.0))
    row = apply_vs_published(c, gate)
    assert row is not None and row.ok
    assert vs_published_warnings(c, gate) == ()
    passing = GateResult(True, 0.5)
    assert with_vs_published(passing, c, gate).passed
    assert apply_vs_published(c, GateSpec()) is None
    assert with_vs_published(passing, c, GateSpec()) is passing


def test_a_small_split_that_cannot_tell_passes_with_a_warning() -> None:
    truth = [("a",)] * 20
    champion = np.tile([0.9, 0.1], (20, 1))
    candidate = champion.copy()
    candidate[0] = [0.3, 0.7]  # one image broken of 20
    c = compare(
        champion,
        candidate,
        truth,
        LABELS,
        multi_label=False,
        champion_threshold=0.5,
        candidate_threshold=0.5,
        image_ids=[f"s{i}" for i in range(20)],
        resamples=500,
    )
    gate = GateSpec(vs_published=VsPublished("top1_accuracy", 0.0))
    assert not c.significantly_worse("top1_accuracy", 0.0) and c.inconclusive("top1_accuracy")
    (warning,) = vs_published_warnings(c, gate)
    assert warning.startswith(
        "test split too small to tell whether top1_accuracy got worse by more than 0 against "
        "the published version: change -0.050, 95% CI -0.150–+0.000, n=20"
    )
    judged = with_vs_published(GateResult(True, 0.5), c, gate)
    assert judged.passed and judged.warnings == (warning,)
