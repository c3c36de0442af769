"""What every backend records about a model version and a publish target, built one way."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

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
    g = model.spec.gate
    return {
        "inputs": model.inputs,
        "threshold_rule": model.spec.threshold.describe(),
        "gate_spec": {
            "min_precision": g.min_precision,
            "min_recall": g.min_recall,
            "min_au_prc": g.min_au_prc,
        },
        "summary": {
            "threshold": threshold,
            "au_prc": evaluation.au_prc,
            "log_loss": evaluation.log_loss,
            "top1_accuracy": evaluation.top1_accuracy,
            "test_images": evaluation.n_examples,
            **evaluation.overall.at(threshold),
            # {metric: Interval.to_dict()}: what plan, show and models print beside each metric
            "intervals": {k: v.to_dict() for k, v in evaluation.intervals_at(threshold).items()},
        },
        "gate": gate.to_dict(),
    }


def verdict(model: DesiredModel, evaluation: Evaluation) -> dict[str, Any]:
    """A version's fields judged by ``model``'s threshold rule and gate: ``eval_fingerprint``,
    ``blessed``, ``threshold`` and ``metrics`` (to merge over the version's earlier metrics)."""
    from edgeops.evaluation import judge

    j = judge(evaluation, model.spec)
    return {
        "eval_fingerprint": model.eval_fingerprint,
        "blessed": bool(j.gate.passed),
        "threshold": float(j.threshold),
        "metrics": version_metrics(model, evaluation, j.threshold, j.gate),
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
