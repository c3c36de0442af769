"""`gate.evaluate_on`: typed, defaulted, validated, and invisible to the fingerprint of every
gate that leaves it at its default."""

from __future__ import annotations

import dataclasses

from edgeops.config.loader import load_config
from edgeops.config.model import GateSpec, ModelSpec
from edgeops.resolve import eval_inputs
from edgeops.state import fingerprint

from .conftest import MINIMAL, Write, problems


def _with_gate(gate: str) -> str:
    return MINIMAL.replace("    dataset: flowers\n", f"    dataset: flowers\n    gate: {gate}\n")


def test_evaluate_on_is_typed_with_its_default(write: Write) -> None:
    gate = load_config(write(_with_gate("{min_precision: 0.8, evaluate_on: cross_validation}")))
    assert gate.models[0].gate == GateSpec(min_precision=0.8, evaluate_on="cross_validation")
    explicit = load_config(write(_with_gate("{evaluate_on: test_split}"))).models[0].gate
    assert explicit == GateSpec() == load_config(write(MINIMAL)).models[0].gate


def test_evaluate_on_rejects_other_values(write: Write) -> None:
    lines = problems(write(_with_gate("{evaluate_on: validation}")))
    assert any("models.flowers.gate.evaluate_on" in line for line in lines)


def test_the_default_keeps_the_eval_fingerprint_and_the_option_changes_it() -> None:
    spec = ModelSpec(name="m", dataset="d", gate=GateSpec(min_precision=0.8))
    before = fingerprint(  # how versions applied before evaluate_on existed recorded it
        {
            "threshold": dataclasses.asdict(spec.threshold),
            "gate": {"min_precision": 0.8, "min_recall": None, "min_au_prc": None},
        }
    )
    assert fingerprint(eval_inputs(spec)) == before
    cv = dataclasses.replace(spec, gate=GateSpec(min_precision=0.8, evaluate_on="cross_validation"))
    assert fingerprint(eval_inputs(cv)) != before  # choosing it re-evaluates
