"""The applier against the in-memory fake backend: order, gates, and plan-after-apply."""

from __future__ import annotations

import dataclasses

import pytest

from edgeops.config.model import GateSpec
from edgeops.errors import EdgeopsError, GateFailed
from edgeops.plan import applier
from edgeops.plan.applier import apply_plan, raise_for_gates
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import Plan
from edgeops.progress import NullReporter
from edgeops.state import DesiredState, LiveState

from .factories import (
    dataset,
    desired,
    imgs,
    live,
    live_dataset,
    live_model,
    live_registry,
    model,
    registry,
    version,
)
from .fake_backend import FakeBackend
from .test_builder import CASES

OLD = imgs({"cat": range(0, 10), "dog": range(10, 20)})
NEW = imgs({"cat": range(0, 14), "dog": range(14, 24)})
DS_OLD, DS_NEW = dataset("pets", OLD), dataset("pets", NEW)
M_OLD, M_NEW = model("pets", DS_OLD), model("pets", DS_NEW)
REG = registry("pets")


def _apply(want: DesiredState, backend: FakeBackend):
    plan = build_plan(want, backend.read())
    return plan, apply_plan(plan, want, backend, NullReporter())


def test_applies_in_dependency_order() -> None:
    backend = FakeBackend(
        live(
            live_dataset("pets", OLD),
            live_dataset("gone", imgs({"x": range(50, 60)})),
            live_model(version(M_OLD, 1), version(model("pets", DS_OLD, node_hours=0.3), 2)),
            live_model(version(model("legacy", DS_OLD), 1)),
            live_registry(REG, 1),
            live_registry(registry("legacy"), 1),
        )
    )
    want = desired(DS_NEW, model("pets", DS_NEW, keep=1), REG)
    _, result = _apply(want, backend)
    assert backend.calls == [
        ("import_dataset", "dataset.pets"),
        ("train_model", "model.pets"),
        ("publish", "publish.pets.registry v3"),
        ("unpublish", "publish.legacy.registry"),
        ("delete_versions", "model.pets [1, 2]"),
        ("forget_model", "model.legacy"),
        ("forget_dataset", "dataset.gone"),
    ]
    assert result.gate_failures == [] and result.skipped == []
    assert len(result.done) == len(backend.calls)


def test_a_missed_gate_blocks_publish_and_keeps_the_old_version_live() -> None:
    backend = FakeBackend(
        live(live_dataset("pets", OLD), live_model(version(M_OLD, 1)), live_registry(REG, 1)),
        passes_gate=False,
    )
    _, result = _apply(desired(DS_NEW, M_NEW, REG), backend)
    assert ("train_model", "model.pets") in backend.calls
    assert not any(call[0] == "publish" for call in backend.calls)
    assert backend.read().publish["publish.pets.registry"].version == 1
    assert result.skipped == ["publish.pets.registry: skipped, model.pets missed its gate"]
    with pytest.raises(GateFailed) as info:
        raise_for_gates(result)
    message = str(info.value)
    assert "model.pets v2 missed its gate" in message
    assert "precision: 0.500 < 0.800  MISSED" in message
    assert "previous version stays live" in message
    # and the next plan neither retrains nor publishes the failed version
    assert build_plan(desired(DS_NEW, M_NEW, REG), backend.read()).empty


def test_retention_keeps_the_live_version_when_the_new_one_misses_its_gate() -> None:
    backend = FakeBackend(
        live(live_dataset("pets", OLD), live_model(version(M_OLD, 1)), live_registry(REG, 1)),
        passes_gate=False,
    )
    want = desired(DS_NEW, model("pets", DS_NEW, keep=1), REG)
    plan, result = _apply(want, backend)
    assert [c.details.get("delete_versions") for c in plan.changes if c.action == "delete"] == [[1]]
    assert not any(call[0] == "delete_versions" for call in backend.calls)
    assert "model.pets: kept v1, a publish target still serves it" in result.skipped
    assert backend.read().publish["publish.pets.registry"].version == 1
    # v2 is not blessed, so the target stays on v1 and the next plan does not plan its deletion
    assert build_plan(want, backend.read()).empty


def test_a_relaxed_gate_re_evaluates_then_publishes_in_one_apply() -> None:
    strict = model("pets", DS_OLD, gate=GateSpec(min_precision=0.99))
    relaxed = model("pets", DS_OLD, gate=GateSpec(min_precision=0.5))
    backend = FakeBackend(
        live(live_dataset("pets", OLD), live_model(version(strict, 1, blessed=False)))
    )
    want = desired(DS_OLD, relaxed, REG)
    _apply(want, backend)
    assert backend.calls == [
        ("evaluate_model", "model.pets v1"),
        ("publish", "publish.pets.registry v1"),
    ]
    assert build_plan(want, backend.read()).empty


def test_publish_of_a_version_that_vanished_is_an_error() -> None:
    backend = FakeBackend(
        live(
            live_dataset("pets", OLD),
            live_model(version(M_OLD, 1), version(model("pets", DS_OLD, node_hours=0.3), 2)),
        )
    )
    want = desired(DS_OLD, M_OLD, REG)
    plan = build_plan(want, backend.read())
    backend.models["model.pets"] = backend.models["model.pets"][1:]  # v1 deleted meanwhile
    with pytest.raises(EdgeopsError, match="v1 of model.pets no longer exists"):
        apply_plan(plan, want, backend, NullReporter())


@pytest.mark.parametrize(("want", "have", "expected"), CASES)
def test_plan_after_apply_shows_no_changes(
    want: DesiredState, have: LiveState, expected: object
) -> None:
    backend = FakeBackend(have)
    _apply(want, backend)
    again = build_plan(want, backend.read())
    assert again.changes == (), [c.reason for c in again.changes]


def _without_prose(plan: Plan) -> Plan:
    """The plan with every change's reason and details blanked: what people read, not data."""
    return dataclasses.replace(
        plan,
        changes=tuple(dataclasses.replace(c, reason="", details={}) for c in plan.changes),
    )


@pytest.mark.parametrize(("want", "have", "expected"), CASES)
def test_the_applier_never_decides_on_reason_or_details(
    want: DesiredState, have: LiveState, expected: object
) -> None:
    plan = build_plan(want, have)
    results = []
    for p in (plan, _without_prose(plan)):
        backend = FakeBackend(have)
        result = apply_plan(p, want, backend, NullReporter())
        results.append((backend.calls, result.done, result.skipped, result.gate_failures))
    assert results[0] == results[1]


def test_deletes_read_live_state_once_however_many_models_they_prune() -> None:
    models = [model(name, DS_OLD, keep=1) for name in ("pets", "cats", "dogs")]
    retrained = [model(m.spec.name, DS_OLD, keep=1, node_hours=0.3) for m in models]
    backend = FakeBackend(
        live(
            live_dataset("pets", OLD),
            *(
                live_model(version(m, 1), version(r, 2))
                for m, r in zip(models, retrained, strict=True)
            ),
        )
    )
    reads = 0
    read = backend.read

    def counting_read() -> LiveState:
        nonlocal reads
        reads += 1
        return read()

    backend.read = counting_read  # type: ignore[method-assign]
    plan = build_plan(desired(DS_OLD, *retrained), read())
    assert [c.action.value for c in plan.changes] == ["delete"] * 3
    apply_plan(plan, desired(DS_OLD, *retrained), backend, NullReporter())
    assert [c for c in backend.calls if c[0] == "delete_versions"] == [
        ("delete_versions", f"model.{m.spec.name} [1]") for m in models
    ]
    assert reads == 1


def test_a_dataset_copy_a_kept_version_was_trained_on_is_kept() -> None:
    """The plan deletes v1 (keep: 1) and the copy of the earlier images only v1 was trained on;
    the new version misses its gate, so the target keeps serving v1: the applier keeps both."""
    have = live(
        dataclasses.replace(live_dataset("pets", OLD), resource="copy-1"),
        dataclasses.replace(live_model(version(M_OLD, 1)), trained_on={1: "copy-1"}),
        live_registry(REG, 1),
    )
    backend = FakeBackend(have, passes_gate=False)
    want = desired(DS_NEW, model("pets", DS_NEW, keep=1), REG)
    plan, result = _apply(want, backend)
    assert [(c.address, c.action.value) for c in plan.changes][-1] == ("dataset.pets", "delete")
    assert "dataset.pets: kept copy-1, a model version uses it" in result.skipped
    assert not [c for c in backend.calls if c[0] == "delete_dataset_resources"]

    # once v1 is gone, the copy goes (the next plan deletes it; nothing uses it any more)
    backend.models["model.pets"] = [v for v in backend.models["model.pets"] if v.version != 1]
    backend.datasets["dataset.pets"] = dataclasses.replace(
        backend.datasets["dataset.pets"], old_resources=("copy-1",)
    )
    plan, result = _apply(want, backend)
    assert ("delete_dataset_resources", "dataset.pets ['copy-1']") in backend.calls


class _Lines(NullReporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(message)


def test_the_gate_line_gives_intervals_and_the_comparison_and_a_vs_published_miss() -> None:
    def iv(value: float, lo: float, hi: float, n: int) -> dict[str, object]:
        return {"value": value, "lo": lo, "hi": hi, "n": n, "method": "wilson"}

    summary = {
        "precision": 0.62,
        "recall": 0.76,
        "au_prc": 0.66,
        "test_images": 79,
        "intervals": {"precision": iv(0.62, 0.52, 0.71, 97), "au_prc": iv(0.66, 0.54, 0.79, 79)},
    }
    vs_row = {
        "metric": "top1_accuracy vs published",
        "value": -0.19,
        "bar": -0.0,
        "ok": False,
        "interval": iv(-0.291, -0.392, -0.19, 79),
        "kind": "vs_published",
    }
    comparison = {
        "champion": 1,
        "metrics": [{"metric": "top1_accuracy", "difference": iv(-0.291, -0.392, -0.19, 79)}],
        "mcnemar": {"b": 24, "c": 1, "p": 1.55e-06},
    }
    metrics = {"summary": summary, "gate": {"rows": [vs_row]}, "comparison": comparison}
    v = dataclasses.replace(version(M_NEW, 2, blessed=False), metrics=metrics, threshold=0.21)
    change = build_plan(desired(DS_NEW, M_NEW), live(live_dataset("pets", NEW))).changes[0]
    reporter, result, blocked = _Lines(), applier.ApplyResult(), set()
    applier._note_gate(v, change, result, blocked, reporter)
    line, failure = reporter.lines
    assert line == (
        "model.pets v2: precision 0.620 (95% CI 0.52–0.71, n=97), recall 0.760 (95% CI n/a), "
        "AuPRC 0.660 (95% CI 0.54–0.79, n=79) at threshold 0.21 on 79 test images; gate MISSED; "
        "vs v1: Δ top-1 -0.291 [-0.392, -0.190], McNemar p = 1.55e-06"
    )
    assert failure.splitlines()[1] == (
        "  top1_accuracy vs published -0.291 [-0.392, -0.190], n=79: significantly worse than "
        "a drop of 0  MISSED"
    )
    assert blocked == {"model.pets"} and result.gate_failures == [failure]
