"""The gate option against the published version: typed, defaulted, and invisible to the
fingerprint of every gate that does not use it."""

from __future__ import annotations

import dataclasses

from edgeops.config.loader import load_config
from edgeops.config.model import GateSpec, ModelSpec, ThresholdRule, VsPublished
from edgeops.resolve import eval_inputs
from edgeops.state import fingerprint

from .conftest import MINIMAL, Write, problems


def _with_gate(gate: str) -> str:
    return MINIMAL.replace("    dataset: flowers\n", f"    dataset: flowers\n    gate: {gate}\n")


def test_vs_published_is_typed_with_its_defaults(write: Write) -> None:
    config = load_config(
        write(_with_gate("{min_au_prc: 0.8, vs_published: {metric: recall, max_drop: 0.02}}"))
    )
    assert config.models[0].gate == GateSpec(
        min_au_prc=0.8, vs_published=VsPublished(metric="recall", max_drop=0.02)
    )
    defaulted = load_config(write(_with_gate("{vs_published: {}}"))).models[0].gate
    assert defaulted.vs_published == VsPublished(metric="au_prc", max_drop=0.0)
    integer = load_config(write(_with_gate("{vs_published: {max_drop: 0}}"))).models[0].gate
    assert integer == defaulted and isinstance(integer.vs_published.max_drop, float)  # type: ignore[union-attr]
    assert load_config(write(_with_gate("{}"))).models[0].gate.vs_published is None


def test_vs_published_rejects_unknown_metrics_and_keys(write: Write) -> None:
    lines = problems(write(_with_gate("{vs_published: {metric: f1}}")))
    assert any("models.flowers.gate.vs_published.metric" in line for line in lines)
    lines = problems(write(_with_gate("{vs_published: {max_drop: -0.1}}")))
    assert any("models.flowers.gate.vs_published.max_drop" in line for line in lines)
    lines = problems(write(_with_gate("{vs_published: {min_drop: 0.1}}")))
    assert any("min_drop" in line for line in lines)


def test_an_absent_vs_published_keeps_the_eval_fingerprint() -> None:
    spec = ModelSpec(
        name="m",
        dataset="d",
        threshold=ThresholdRule(target_precision=0.9),
        gate=GateSpec(min_precision=0.8, min_au_prc=0.9),
    )
    # how every version applied before vs_published existed recorded its eval fingerprint
    before = fingerprint(
        {
            "threshold": dataclasses.asdict(spec.threshold),
            "gate": {"min_precision": 0.8, "min_recall": None, "min_au_prc": 0.9},
        }
    )
    assert fingerprint(eval_inputs(spec)) == before
    with_option = dataclasses.replace(
        spec, gate=dataclasses.replace(spec.gate, vs_published=VsPublished())
    )
    assert fingerprint(eval_inputs(with_option)) != before  # adding it re-evaluates
    other_drop = dataclasses.replace(
        spec, gate=dataclasses.replace(spec.gate, vs_published=VsPublished(max_drop=0.01))
    )
    assert fingerprint(eval_inputs(other_drop)) != fingerprint(eval_inputs(with_option))
