"""Backbone features of any images, for judging a dataset's health (``edgeops inspect``, the
review page's suggestions): the local trainer's frozen EfficientNet-Lite0, pooled, float, in
LiteRT, the whole image resized (the ``plain`` view the trainer uses).

The features are cached with the trainer's (keyed by image content hash, backbone and view), so
images a model was trained on cost nothing here, and what is computed here speeds up training.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgeops.backends.local.ml.backbone import backbone_for
from edgeops.backends.local.ml.features import _atomic_save, render_view
from edgeops.backends.local.ml.hparams import TRAINER_VERSION
from edgeops.progress import Reporter
from edgeops.runtime.images import load_rgb, normalize
from edgeops.runtime.litert import LiteRTRunner

FEATURE_BACKBONE = "latency"  # EfficientNet-Lite0: the fastest of the trainer's backbones


def image_features(
    cache_dir: Path,
    images: Sequence[tuple[str, Callable[[], bytes]]],
    reporter: Reporter,
) -> tuple[str, np.ndarray]:
    """(backbone name, an (n, d) float32 matrix of L2-normalised features) for (sha256, read
    bytes) pairs; ``read`` is called only for images whose features are not cached."""
    from edgeops.backends.local.ml.export import feature_backbone

    backbone = backbone_for(FEATURE_BACKBONE)
    root = cache_dir / "features" / backbone.name
    rows: list[np.ndarray | None] = []
    misses: list[int] = []
    for i, (sha, _read) in enumerate(images):
        cached = root / sha[:2] / f"{sha}.plain.npy"
        if cached.exists():
            rows.append(np.load(cached).astype(np.float32))
        else:
            rows.append(None)
            misses.append(i)
    if misses:
        with reporter.task(f"converting {backbone.name} backbone", None):
            tflite = feature_backbone(backbone, cache_dir, cache_dir, TRAINER_VERSION)
        runner = LiteRTRunner(tflite)
        with reporter.task("computing backbone features", len(misses)) as task:
            for i in misses:
                sha, read = images[i]
                image = load_rgb(io.BytesIO(read()))  # type: ignore[arg-type]
                feat = runner(normalize(render_view(image, "plain", backbone.image_size, sha)))
                feat = np.asarray(feat, np.float32).reshape(-1)
                _atomic_save(root / sha[:2] / f"{sha}.plain.npy", feat)
                rows[i] = feat
                task.advance()
    if not rows:
        return backbone.name, np.zeros((0, backbone.feature_dim), np.float32)
    x = np.stack([np.asarray(r, np.float32).reshape(-1) for r in rows if r is not None])
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return backbone.name, x / np.maximum(norms, 1e-12)
