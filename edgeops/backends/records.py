"""What every backend records about a model version and a publish target, built one way."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from edgeops.evaluation import crossval
from edgeops.state import DesiredModel, DesiredPublish, LiveVersion

if TYPE_CHECKING:  # numpy: imported when a version is judged, not with the backend
    from edgeops.evaluation import Evaluation, GateResult

# What a backend stores for each version of a model: every LiveVersion field but the model's
# name, which the record it is stored under (a row's address, a per-model file) says.
VERSION_FIELDS = tuple(f.name for f in fields(LiveVersion) if f.name != "model")


def version_metrics(
    model: DesiredModel, evaluation: Evaluation, threshold: float, gate: GateResult
) -> dict[str, Any]:
    """What a version records about its evaluation (the full one is in evaluation.json)."""
    return {
        "inputs": model.inputs,
        "threshold_rule": model.spec.threshold.describe(),
        # the bars set (``vs_published`` and ``evaluate_on`` only when set): a change of any
        # plans a re-evaluation
        "gate_spec": model.spec.gate.fingerprint_inputs(),
        "summary": {**evaluation.summary_at(threshold), "test_images": evaluation.n_examples},
        "gate": gate.to_dict(),
        # k-fold cross-validated metrics beside a small test split (labelled as such)
        **(
            {"cross_validation": crossval.record(evaluation.cross_validation, threshold)}
            if evaluation.cross_validation is not None
            else {}
        ),
    }


def against_published(
    gate: GateResult, comparison: dict[str, Any] | None, model: DesiredModel
) -> GateResult:
    """``gate`` with the ``vs_published`` row when the config sets one and there is a comparison
    with a served version (``Comparison.to_dict()``, as a version records it): a version
    significantly worse than the served one is blocked."""
    if model.spec.gate.vs_published is None:
        return gate
    from edgeops.evaluation.compare import comparison_of, with_vs_published

    c = comparison_of(comparison)
    return gate if c is None else with_vs_published(gate, c, model.spec.gate)


def verdict(
    model: DesiredModel, evaluation: Evaluation, comparison: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A version's fields judged by ``model``'s threshold rule and gate: ``eval_fingerprint``,
    ``blessed``, ``threshold`` and ``metrics`` (to merge over the version's earlier metrics).
    ``comparison``: the version's recorded comparison with the version served when it was
    trained, which ``gate.vs_published`` reads."""
    from edgeops.evaluation import judge

    j = judge(evaluation, model.spec)
    gate = against_published(j.gate, comparison, model)
    return {
        "eval_fingerprint": model.eval_fingerprint,
        "blessed": bool(gate.passed),
        "threshold": float(j.threshold),
        "metrics": version_metrics(model, evaluation, j.threshold, gate),
    }


def target_fields(target: DesiredPublish, version: LiveVersion) -> dict[str, Any]:
    """What every publish target records, whatever its kind: a change to any of these plans an
    update of the target."""
    return {
        "version": version.version,
        "threshold": version.threshold,
        "eval_fingerprint": version.eval_fingerprint,
        "protect": target.protect,  # unpublish is refused while true (plan protection)
    }
