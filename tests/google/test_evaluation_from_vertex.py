"""Vertex AI evaluation JSON -> edgeops' Evaluation, on small hand-checkable tables, and the
shared threshold rules and gate on the result (the same code the local backend uses)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from edgeops.backends.google.evaluation import (
    curve_from_confidence_metrics,
    evaluation_from_vertex,
)
from edgeops.config.model import GateSpec, ThresholdRule
from edgeops.errors import EdgeopsError
from edgeops.evaluation import THRESHOLDS, apply_gate, choose_threshold


def f32(x: float) -> float:
    """``x`` as the service stores it (float32) and JSON renders it back (a double)."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def entry(t: float | None, p: float, r: float, **more: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"precision": p, "recall": r, **more}
    if t:  # proto3 JSON leaves a 0.0 threshold out
        e["confidenceThreshold"] = t
    return e


# An overall curve with thresholds off the 0.01 grid. Reading rule: grid threshold g takes the
# entry with the largest threshold <= g.
#   threshold  precision  recall
#   0.0        0.40       1.00
#   0.125      0.70       0.90
#   0.5        0.85       0.60
#   0.875      1.00       0.10
OFF_GRID = [
    entry(0.875, 1.0, 0.1),  # out of order on purpose
    entry(None, 0.4, 1.0),
    entry(0.5, 0.85, 0.6, falsePositiveRate=0.05),
    entry(0.125, 0.7, 0.9),
    # a position-threshold entry (maxPredictions set) is no point of the curve
    entry(0.5, 0.01, 0.01, maxPredictions=1),
]


@pytest.mark.parametrize(
    ("grid", "precision", "recall"),
    [
        (0.00, 0.40, 1.0),
        (0.12, 0.40, 1.0),  # 0.125 is above 0.12
        (0.13, 0.70, 0.9),
        (0.49, 0.70, 0.9),
        (0.50, 0.85, 0.6),
        (0.87, 0.85, 0.6),
        (0.88, 1.00, 0.1),
        (1.00, 1.00, 0.1),
    ],
)
def test_off_grid_thresholds_take_the_entry_at_or_below(
    grid: float, precision: float, recall: float
) -> None:
    at = curve_from_confidence_metrics(OFF_GRID).at(grid)
    assert (at["precision"], at["recall"]) == (precision, recall)


def test_f1_is_computed_when_absent_and_zero_values_are_omitted() -> None:
    curve = curve_from_confidence_metrics(OFF_GRID)
    assert curve.at(0.5)["f1"] == round(2 * 0.85 * 0.6 / (0.85 + 0.6), 6)  # 0.703448
    assert curve.at(0.5)["false_positive_rate"] == 0.05
    assert curve.at(0.2)["false_positive_rate"] == 0.0  # omitted -> 0
    only_threshold = curve_from_confidence_metrics([{"confidenceThreshold": 0.3}])
    assert only_threshold.at(0.9) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "false_positive_rate": 0.0,
    }


def test_float32_thresholds_land_on_their_own_grid_point() -> None:
    # Vertex's documented thresholds, as float32 values rendered to JSON: 0.05 comes back as
    # 0.0500000007..., just above 0.05; grid 0.05 must still take it (not the 0.00 entry)
    documented = [round(i * 0.05, 2) for i in range(20)] + [0.96, 0.97, 0.98, 0.99]
    entries = [entry(f32(t), f32(t), 1 - t) for t in documented]
    curve = curve_from_confidence_metrics(entries)
    for t in documented:
        assert curve.at(t)["precision"] == round(f32(t), 6), t
    assert curve.at(0.07)["precision"] == round(f32(0.05), 6)
    assert curve.at(1.0)["precision"] == round(f32(0.99), 6)


def test_threshold_rules_and_gate_on_an_off_grid_curve() -> None:
    ev = evaluation_from_vertex(
        {"auPrc": 0.8, "confidenceMetrics": OFF_GRID},
        {},
        multi_label=False,
        labels=("cat", "dog"),
    )
    # target_precision 0.8: the lowest grid threshold reaching it is 0.50 (0.49 reads 0.70)
    assert choose_threshold(ev, ThresholdRule(target_precision=0.8)).threshold == 0.5
    # target_recall 0.9: the highest grid threshold with recall >= 0.9 is 0.49
    assert choose_threshold(ev, ThresholdRule(target_recall=0.9)).threshold == 0.49
    # max_f1: f1 is 0.571 (0.0..0.12), 0.788 (0.13..0.49), 0.703 (0.5..0.87), 0.182 above
    assert choose_threshold(ev, ThresholdRule(max_f1=True)).threshold == 0.13
    # target_precision 0.99 is met only at 0.88 (precision 1.0, recall 0.1 > 0)
    assert choose_threshold(ev, ThresholdRule(target_precision=0.99)).threshold == 0.88
    gate = GateSpec(min_precision=0.8, min_recall=0.6, min_au_prc=0.8)
    assert apply_gate(ev, 0.5, gate).passed
    missed = apply_gate(ev, 0.49, gate)
    assert not missed.passed
    assert [(r.metric, r.ok) for r in missed.rows] == [
        ("precision", False),
        ("recall", True),
        ("au_prc", True),
    ]
    assert not apply_gate(ev, 0.88, gate).passed  # recall 0.1 < 0.6


# Vertex lists annotation specs in its own order; rows[i][j] = truth i, predicted j.
#            pred dog  cat  bird
#   dog           5    1    0
#   cat           2    7    1
#   bird          0    0    4
VERTEX_CM = {
    "annotationSpecs": [
        {"id": "11", "displayName": "dog"},
        {"id": "12", "displayName": "cat"},
        {"id": "13", "displayName": "bird"},
    ],
    "rows": [[5, 1, 0], [2, 7, 1], [0, 0, 4]],
}


def test_confusion_matrix_is_reordered_to_our_label_order() -> None:
    ev = evaluation_from_vertex(
        {"confusionMatrix": VERTEX_CM, "confidenceMetrics": OFF_GRID, "logLoss": 0.25},
        {},
        multi_label=False,
        labels=("bird", "cat", "dog"),
    )
    #            pred bird cat dog
    assert ev.confusion == ((4, 0, 0), (1, 7, 2), (0, 1, 5))
    assert [m.support for m in ev.per_label] == [4, 10, 6]
    assert ev.n_examples == 20
    assert ev.top1_accuracy == 0.8  # (4 + 7 + 5) / 20
    assert ev.log_loss == 0.25


def test_labels_vertex_did_not_list_and_specs_we_do_not_know() -> None:
    cm = {
        "annotationSpecs": [{"displayName": "cat"}, {"displayName": "ghost"}],
        "rows": [[3, 1], [2, 9]],
    }
    ev = evaluation_from_vertex(
        {"confusionMatrix": cm, "confidenceMetrics": OFF_GRID},
        {},
        multi_label=False,
        labels=("cat", "dog"),
    )
    assert ev.confusion == ((3, 0), (0, 0))  # 'ghost' dropped, 'dog' all zero
    assert ev.n_examples == 3 and ev.top1_accuracy == 1.0


def _slice(points: list[tuple[float | None, float, float]], au: float) -> dict[str, Any]:
    return {"auPrc": au, "confidenceMetrics": [entry(t, p, r) for t, p, r in points]}


def test_missing_per_label_entries_fall_back_to_the_overall_curve() -> None:
    slices = {
        "cat": _slice([(None, 0.5, 1.0), (0.7, 0.9, 0.8)], 0.9),
        "dog": _slice([(None, 0.3, 1.0), (0.2, 0.6, 0.7), (0.9, 1.0, 0.2)], 0.7),
        "bird": {"auPrc": 0.4},  # a slice without confidenceMetrics
    }
    ev = evaluation_from_vertex(
        {"auPrc": 0.8, "confidenceMetrics": OFF_GRID},
        slices,
        multi_label=True,
        labels=("bird", "cat", "dog", "fish"),
    )
    by = {m.label: m for m in ev.per_label}
    assert by["cat"].curve.at(0.69)["precision"] == 0.5
    assert by["cat"].curve.at(0.7)["precision"] == 0.9
    assert by["cat"].au_prc == 0.9
    assert by["fish"].curve == ev.overall and by["fish"].au_prc == 0.0
    assert by["bird"].curve == ev.overall and by["bird"].au_prc == 0.0
    assert ev.extra["labels_without_vertex_metrics"] == ["bird", "fish"]
    # multi-label: one threshold per label; the labels without metrics get the overall one
    choice = choose_threshold(ev, ThresholdRule(target_precision=0.8))
    assert choice.threshold == 0.5
    assert choice.per_label == {"bird": 0.5, "cat": 0.7, "dog": 0.9, "fish": 0.5}


def test_multi_label_top1_comes_from_precision_at_1_of_the_curve() -> None:
    metrics = {
        "auPrc": 0.75,
        "confidenceMetrics": [
            entry(0.5, 0.01, 0.01, maxPredictions=1, precisionAt1=0.11),  # not the curve
            entry(None, 0.5, 1.0, precisionAt1=0.83),
            entry(0.5, 0.8, 0.7, precisionAt1=0.83),
        ],
    }
    ev = evaluation_from_vertex(metrics, {}, multi_label=True, labels=("a", "b"))
    assert ev.top1_accuracy == 0.83
    assert ev.n_examples == 0  # Vertex gives no confusion matrix here
    assert ev.multi_label
    assert apply_gate(ev, 0.5, GateSpec(min_precision=0.8, min_au_prc=0.7)).passed


def test_an_evaluation_without_a_curve_is_a_clear_error() -> None:
    with pytest.raises(EdgeopsError, match="no confidenceMetrics"):
        evaluation_from_vertex(
            {"confidenceMetrics": [entry(0.5, 1, 1, maxPredictions=1)]},
            {},
            multi_label=False,
            labels=("a",),
        )


def test_the_result_round_trips_through_the_stored_json() -> None:
    from edgeops.evaluation import Evaluation

    ev = evaluation_from_vertex(
        {"confusionMatrix": VERTEX_CM, "confidenceMetrics": OFF_GRID, "auPrc": 0.5},
        {"dog": _slice([(None, 0.2, 1.0)], 0.6)},
        multi_label=False,
        labels=("bird", "cat", "dog"),
    )
    back = Evaluation.from_dict(ev.to_dict())
    assert back.overall == ev.overall and back.confusion == ev.confusion
    assert len(back.overall.precision) == len(THRESHOLDS)


# The curve is the entries at position threshold INT32_MAX_VALUE (ClassificationEvaluationMetrics
# in the Vertex AI reference); an entry's position threshold is its maxPredictions. The page does
# not say how the unlimited one is written: proto3 JSON leaves an unset field out, and a service
# that sets it writes 2147483647. Both shapes must read as the same curve, top-k entries beside
# them as no part of it.
INT32_MAX = 2**31 - 1
WITHOUT_KEY = [e for e in OFF_GRID if "maxPredictions" not in e]
WITH_KEY = [
    {**e, "maxPredictions": INT32_MAX} if "maxPredictions" not in e else e for e in OFF_GRID
]


@pytest.mark.parametrize(
    "entries", [WITHOUT_KEY, OFF_GRID, WITH_KEY], ids=["bare", "absent", "int32max"]
)
def test_both_shapes_of_the_curve_read_the_same(entries: list[dict[str, Any]]) -> None:
    curve = curve_from_confidence_metrics(entries)
    assert curve == curve_from_confidence_metrics(WITHOUT_KEY)
    assert curve.at(0.5)["precision"] == 0.85 and curve.at(0.5)["recall"] == 0.6


def test_a_curve_written_with_max_predictions_is_not_dropped() -> None:
    """Before: every entry carrying maxPredictions was dropped, so this evaluation had no
    curve at all."""
    ev = evaluation_from_vertex(
        {"auPrc": 0.8, "confidenceMetrics": WITH_KEY},
        {"cat": _slice([(None, 0.5, 1.0), (0.7, 0.9, 0.8)], 0.9)},
        multi_label=False,
        labels=("cat", "dog"),
    )
    assert ev.overall == curve_from_confidence_metrics(WITHOUT_KEY)
    assert choose_threshold(ev, ThresholdRule(target_precision=0.8)).threshold == 0.5
