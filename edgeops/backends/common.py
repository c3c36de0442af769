"""Pieces every backend shares: the bundle file layout, what a version records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeops.state import DesiredModel


def bundle_paths(model_path: Path) -> tuple[Path, Path, Path]:
    """The files a bundle target writes: the model, its labels and its JSON card."""
    stem = model_path.with_suffix("")
    return model_path, Path(f"{stem}.labels.txt"), Path(f"{stem}.json")


def version_metrics(
    model: DesiredModel, evaluation: Any, threshold: float, gate: Any
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
        },
        "gate": gate.to_dict(),
    }
