"""A real version with a small test split (the objects example: about 21 test images) carries
k-fold cross-validated metrics, which `edgeops eval`, `show` and its model card show labelled as
such, and a gate that reads them is a re-evaluation, not a retrain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_helpers import GATE_END, apply, edit, plan
from trained_example import edgeops, ok

pytestmark = pytest.mark.slow  # the trained example (shared by the session)

LABEL = "k-fold cross-validation of the head on float features, train+validation, k=5, n="


def _v1(root: Path) -> dict[str, object]:
    live = json.loads(ok(edgeops(root, "show", "--json")))
    (version,) = [v for v in live["models"]["model.objects"]["versions"] if v["version"] == 1]
    return version


def test_a_small_test_split_gets_cross_validated_metrics(example: Path) -> None:
    metrics = _v1(example)["metrics"]
    test_images = metrics["summary"]["test_images"]  # type: ignore[index]
    cv = metrics["cross_validation"]  # type: ignore[index]
    assert test_images < 50
    assert cv["k"] == 5 and cv["n"] > 3 * test_images and cv["label"].startswith(LABEL)
    for name in ("precision", "recall", "au_prc", "top1_accuracy"):
        assert 0.0 <= cv[name] <= 1.0 and cv["intervals"][name]["n"] > 0
    assert cv["intervals"]["au_prc"]["method"] == "bootstrap"
    assert cv["intervals"]["precision"]["method"] == "wilson"
    assert metrics["gate"].get("evaluated_on") is None  # type: ignore[union-attr]  # the test split

    shown = ok(edgeops(example, "eval", "model.objects", "--html", "report.html"))
    assert f"NOT the test split: {LABEL}{cv['n']}" in shown
    assert f"{test_images} test images" in shown
    assert "Cross-validation (not the test split)" in (example / "report.html").read_text()
    assert f"v1: also {LABEL}{cv['n']}" in ok(edgeops(example, "show"))

    card = json.loads((example / ".edgeops/models/objects/v1/model_card.json").read_text())
    assert card["cross_validation"]["n"] == cv["n"]
    seconds = card["cross_validation"]["seconds"]
    print(f"cross-validation of objects ({cv['n']} train+validation images): {seconds:.2f} s")


def test_a_gate_on_cross_validation_is_previewed_and_applied_without_training(
    example: Path,
) -> None:
    edit(example, GATE_END, GATE_END + "      evaluate_on: cross_validation\n")
    planned = json.loads(plan(example, "--format", "json"))
    (change,) = [c for c in planned["changes"] if c["action"] == "evaluate"]
    assert "gate evaluate_on test_split -> cross_validation" in change["reason"]
    (gate,) = change["gates"]
    assert gate["evaluated_on"] == "cross_validation" and gate["decided"] == "previewed"
    assert "1 to train" not in plan(example)
    assert "cross-validated precision" in plan(example)

    apply(example)
    metrics = _v1(example)["metrics"]
    assert metrics["gate"]["evaluated_on"] == "cross_validation"  # type: ignore[index]
    cv = metrics["cross_validation"]  # type: ignore[index]
    assert gate["precision"] == pytest.approx(cv["precision"])
    shown = ok(edgeops(example, "eval", "model.objects"))
    assert "precision (k-fold cross-validation)" in shown
