"""Images as the exported models see them: decoded upright in RGB, the whole image resized
(bilinear, aspect not kept, as MediaPipe does), uint8 pixels; float models take them normalised
with the mean and std written into the model's metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

NORM_MEAN = 127.0
NORM_STD = 128.0


def load_rgb(path: Path) -> Any:
    """Decodes an image (first frame for GIF/ICO/WebP animations) as an RGB Pillow image."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.seek(0)
        upright = ImageOps.exif_transpose(im)
        return upright.convert("RGB")


def to_input(image: Any, size: int) -> np.ndarray:
    """Whole image resized (bilinear, aspect not kept, as MediaPipe does) -> uint8 HxWx3."""
    from PIL import Image

    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def normalize(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - NORM_MEAN) / NORM_STD
