"""Per-image scores of an exported model on image files: what `plan --train` compares the
served model and its candidate on (same images, same preprocessing, LiteRT)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeops.runtime.images import load_rgb, to_input
from edgeops.runtime.litert import LiteRTRunner


def score_files(model_file: Path, images: Sequence[Path]) -> np.ndarray:
    """(len(images), n_labels) float scores of the ``.tflite`` at ``model_file``."""
    return _scores(model_file, images)


def score_images(model_file: Path, reads: Sequence[Callable[[], bytes]]) -> np.ndarray:
    """The same for images read by ``reads`` (each called once, when its image is scored)."""
    return _scores(model_file, (io.BytesIO(read()) for read in reads))


def _scores(model_file: Path, images: Iterable[Any]) -> np.ndarray:
    runner = LiteRTRunner(model_file)
    size = int(runner.input["shape"][1])
    rows = [runner.scores(to_input(load_rgb(image), size)) for image in images]
    if not rows:
        return np.zeros((0, int(runner.output["shape"][-1])), np.float32)
    return np.stack(rows)
