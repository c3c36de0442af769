"""`edgeops eval`, `edgeops show` and `edgeops models` print every metric with its 95% interval
and n, and "n/a" for what was recorded before intervals existed."""

from __future__ import annotations

import json

import numpy as np

from edgeops.config.model import GateSpec
from edgeops.evaluation import Evaluation, apply_gate, evaluate_scores
from edgeops.state import LiveModel, LiveState, LiveVersion
from edgeops.views.evaluation import render_evaluation
from edgeops.views.models import render_models
from edgeops.views.show import render_live

RNG = np.random.default_rng(0)
LABELS = ("cat", "dog", "bird")
SCORES = RNG.random((57, 3))
SCORES /= SCORES.sum(1, keepdims=True)
TRUTH = [(LABELS[j],) for j in RNG.integers(0, 3, 57)]
EV = evaluate_scores(SCORES, TRUTH, LABELS, multi_label=False)


def _without_intervals(ev: Evaluation) -> Evaluation:
    d = json.loads(json.dumps(ev.to_dict()))
    d.pop("au_prc_ci"), d.pop("log_loss_ci")
    for curve in [d["overall"], *(m["curve"] for m in d["per_label"])]:
        curve.pop("counts"), curve.pop("f1_ci")
    for m in d["per_label"]:
        m.pop("au_prc_ci")
    return Evaluation.from_dict(d)


def _row(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"│ {start}"))


def test_eval_prints_every_metric_with_its_interval_and_n() -> None:
    gate = apply_gate(EV, 0.3, GateSpec(min_precision=0.3))
    text = render_evaluation("model.pets v1", EV, 0.3, gate)
    assert text.startswith("model.pets v1: 57 test images, threshold 0.30\n")
    iv = EV.intervals_at(0.3)
    p = iv["precision"]
    assert f"{p.lo:.2f}–{p.hi:.2f}" in _row(text, "precision at the threshold")
    assert f"{p.n} predicted" in _row(text, "precision at the threshold")
    assert "57 positives" in _row(text, "recall at the threshold")
    assert "57 images │ bootstrap" in _row(text, "AuPRC (micro)")
    assert "57 images │ Wilson" in _row(text, "top-1 accuracy")
    for name in ("log loss", "F1 at the threshold", "false-positive rate at the threshold"):
        assert "n/a" not in _row(text, name)
    cat = EV.label_metrics("cat").intervals_at(0.3, 57)["recall"]
    below_cat = text.splitlines()[text.splitlines().index(_row(text, "cat")) + 1]
    assert f"{cat.lo:.2f}–{cat.hi:.2f}" in below_cat  # each value's interval under it
    flat = " ".join(text.split())  # the console wraps long lines
    assert f"gate passed at threshold 0.30: precision {p.value:.3f} >= 0.300 ({p.describe()})" in (
        flat
    )
    assert gate.warnings == (
        f"test split too small to support min_precision 0.3: precision 0.33, {p.describe()}",
    )
    assert f"! {gate.warnings[0]}" in flat


def test_eval_of_an_old_evaluation_says_n_a() -> None:
    old = _without_intervals(EV)
    text = render_evaluation("model.pets v1", old, 0.3, apply_gate(old, 0.3, GateSpec()))
    assert "n/a" in _row(text, "precision at the threshold")
    assert "n/a" in _row(text, "AuPRC (micro)")
    assert "n/a" not in _row(text, "top-1 accuracy")  # derived from accuracy and n
    below_cat = text.splitlines()[text.splitlines().index(_row(text, "cat")) + 1]
    assert below_cat.count("n/a") == 4 and "n/a" in _row(text, "cat")  # and predicted


def _live(summary: dict[str, object]) -> LiveState:
    v = LiveVersion(
        model="pets",
        version=1,
        fingerprint="f",
        eval_fingerprint="e",
        status="ready",
        blessed=True,
        threshold=0.3,
        metrics={"summary": summary},
    )
    return LiveState(backend="local", models={"model.pets": LiveModel("model.pets", (v,))})


def test_show_and_models_print_recorded_intervals_or_n_a() -> None:
    intervals = {k: v.to_dict() for k, v in EV.intervals_at(0.3).items()}
    at = EV.overall.at(0.3)
    summary = {**at, "au_prc": EV.au_prc, "intervals": intervals}
    p = EV.intervals_at(0.3)["precision"]
    text = render_live(_live(summary), width=140)  # as `edgeops show` prints to a pipe
    assert (
        f"{at['precision']:.3f}" in text and f"{p.lo:.2f}–{p.hi:.2f}" in text and f"n={p.n}" in text
    )
    assert "95% interval and n" in text
    old = render_live(_live({k: v for k, v in summary.items() if k != "intervals"}), width=140)
    assert f"{at['precision']:.3f}" in old and "n/a" in old
    version = {
        "version": 1,
        "status": "ready",
        "blessed": True,
        "threshold": 0.3,
        "precision": at["precision"],
        "recall": at["recall"],
        "au_prc": EV.au_prc,
        "intervals": intervals,
        "published": [],
        "file": None,
        "sha256": None,
        "size": None,
        "created_at": "",
    }
    listing = render_models({"backend": "local", "registry": [], "models": {"m": [version]}})
    assert f"{p.lo:.2f}–{p.hi:.2f}" in listing and f"n={p.n}" in listing


def test_eval_shows_the_comparison_with_the_published_version() -> None:
    from edgeops.evaluation.compare import compare, comparison_lines

    other = np.roll(SCORES, 1, axis=0)
    c = compare(
        other,
        SCORES,
        TRUTH,
        LABELS,
        multi_label=False,
        champion_threshold=0.3,
        candidate_threshold=0.3,
        image_ids=[str(i) for i in range(57)],
        resamples=200,
    )
    text = render_evaluation(
        "model.pets v2", EV, 0.3, apply_gate(EV, 0.3, GateSpec()), comparison=c
    )
    for line in comparison_lines(c):
        assert line in text


def test_describe_summary_for_one_line_outputs() -> None:
    from edgeops.evaluation.intervals import describe_summary

    p = EV.intervals_at(0.3)["precision"]
    summary = {"precision": p.value, "recall": 0.5, "intervals": {"precision": p.to_dict()}}
    assert describe_summary(summary) == (
        f"precision {p.value:.3f} ({p.describe()}), recall 0.500 (95% CI n/a), AuPRC -"
    )
