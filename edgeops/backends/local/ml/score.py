"""Per-image scores of an exported model on image files: what `plan --train` compares the
served model and its candidate on (same images, same preprocessing, LiteRT)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeops.runtime.images import load_rgb, to_input
from edgeops.runtime.litert import LiteRTRunner


def score_files(model_file: Path, images: Sequence[Path]) -> np.ndarray:
    """(len(images), n_labels) float scores of the ``.tflite`` at ``model_file``."""
    runner = LiteRTRunner(model_file)
    size = int(runner.input["shape"][1])
    return np.stack([runner.scores(to_input(load_rgb(path), size)) for path in images])
