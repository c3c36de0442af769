"""Backbone features of any images, for judging a dataset's health (``edgeops inspect``, the
review page's suggestions): the local trainer's frozen EfficientNet-Lite0, pooled, float, in
LiteRT, the whole image resized (the ``plain`` view the trainer uses).

The features are cached with the trainer's (keyed by image content hash, backbone and view), so
images a model was trained on cost nothing here, and what is computed here speeds up training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.progress import Reporter

if TYPE_CHECKING:
    import numpy as np

FEATURE_BACKBONE = "latency"  # EfficientNet-Lite0: the fastest of the trainer's backbones
# its name, which names its cache folder (checked against ml.backbone by a test): known without
# importing numpy, so `edgeops plan` can tell whether features are cached before loading any
FEATURE_BACKBONE_NAME = "efficientnet-lite0"


def _cached_path(cache_dir: str | Path, sha: str) -> str:
    return os.path.join(cache_dir, "features", FEATURE_BACKBONE_NAME, sha[:2], f"{sha}.plain.npy")


def _cached_file(cache_dir: Path, sha: str) -> Path:
    return Path(_cached_path(cache_dir, sha))


def cached_image_features(cache_dir: Path, shas: Sequence[str]) -> tuple[str, Any] | None:
    """What ``image_features`` returns for these images when every one of them is cached, else
    None; never computes a feature, and imports numpy only when all are cached."""
    # Plain strings, stopping at the first missing file: a plan on 100k images that were never
    # inspected must not build 100k Path objects to find that out.
    files = []
    for sha in shas:
        path = _cached_path(cache_dir, sha)
        if not os.path.exists(path):
            return None
        files.append(path)
    import numpy as np

    if not files:
        return FEATURE_BACKBONE_NAME, np.zeros((0, 0), np.float32)
    return FEATURE_BACKBONE_NAME, _normalised([np.load(f) for f in files])


def _normalised(rows: Sequence[Any]) -> np.ndarray:
    import numpy as np

    x = np.stack([np.asarray(r, np.float32).reshape(-1) for r in rows])
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), np.float32)


def image_features(
    cache_dir: Path,
    images: Sequence[tuple[str, Callable[[], bytes]]],
    reporter: Reporter,
) -> tuple[str, np.ndarray]:
    """(backbone name, an (n, d) float32 matrix of L2-normalised features) for (sha256, read
    bytes) pairs; ``read`` is called only for images whose features are not cached."""
    import io

    import numpy as np

    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone
    from edgeops.backends.local.ml.features import _atomic_save, render_view
    from edgeops.runtime.images import load_rgb, normalize
    from edgeops.runtime.litert import LiteRTRunner

    backbone = backbone_for(FEATURE_BACKBONE)
    rows: list[np.ndarray | None] = []
    misses: list[int] = []
    for i, (sha, _read) in enumerate(images):
        cached = _cached_file(cache_dir, sha)
        if cached.exists():
            rows.append(np.load(cached).astype(np.float32))
        else:
            rows.append(None)
            misses.append(i)
    if misses:
        with reporter.task(f"converting {backbone.name} backbone", None):
            tflite = feature_backbone(backbone)
        runner = LiteRTRunner(tflite)
        with reporter.task("computing backbone features", len(misses)) as task:
            for i in misses:
                sha, read = images[i]
                image = load_rgb(io.BytesIO(read()))  # type: ignore[arg-type]
                feat = runner(normalize(render_view(image, "plain", backbone.image_size, sha)))
                feat = np.asarray(feat, np.float32).reshape(-1)
                _atomic_save(_cached_file(cache_dir, sha), feat)
                rows[i] = feat
                task.advance()
    if not rows:
        return backbone.name, np.zeros((0, backbone.feature_dim), np.float32)
    return backbone.name, _normalised([r for r in rows if r is not None])
