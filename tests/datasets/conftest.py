"""Helpers that generate small, distinct test images and dataset sources in tmp_path."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeops.config.model import DatasetSpec, SourceSpec, SplitSpec
from edgeops.datasets import scan_dataset
from edgeops.datasets.manifest import Manifest
from edgeops.errors import DatasetError
from edgeops.progress import NullReporter


def image_bytes(seed: int, fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    """A distinct tiny image: random noise seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    extra = {"sizes": [size]} if fmt == "ICO" else {}
    Image.fromarray(pixels, "RGB").save(buf, format=fmt, **extra)
    return buf.getvalue()


class Seeds:
    """Hands out fresh seeds so that every generated image in a test is distinct."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


@pytest.fixture
def seeds() -> Seeds:
    return Seeds()


def make_label_tree(
    base: Path, counts: dict[str, int], seeds: Callable[[], int], fmt: str = "PNG"
) -> dict[str, list[Path]]:
    """``base/LABEL/imgNNN.png`` with ``counts[LABEL]`` distinct images per label."""
    out: dict[str, list[Path]] = {}
    ext = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "BMP": "bmp", "WEBP": "webp"}[fmt]
    for label, n in counts.items():
        folder = base / label
        folder.mkdir(parents=True, exist_ok=True)
        out[label] = []
        for i in range(n):
            p = folder / f"img{i:03d}.{ext}"
            p.write_bytes(image_bytes(seeds(), fmt))
            out[label].append(p)
    return out


def write_zip(
    path: Path,
    members: Iterable[tuple[str, bytes]],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def tree_members(
    counts: dict[str, int], seeds: Callable[[], int], prefix: str = ""
) -> list[tuple[str, bytes]]:
    return [
        (f"{prefix}{label}/img{i:03d}.png", image_bytes(seeds()))
        for label, n in counts.items()
        for i in range(n)
    ]


def spec_for(
    kind: str,
    path: Path,
    *,
    labels_file: Path | None = None,
    multi_label: bool = False,
    name: str = "ds",
    split: SplitSpec | None = None,
) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        source=SourceSpec(kind, path, labels_file),  # type: ignore[arg-type]
        multi_label=multi_label,
        split=split or SplitSpec(),
    )


def scan(spec: DatasetSpec, tmp_path: Path, *, cache: str = "cache.sqlite") -> Manifest:
    return scan_dataset(
        spec, root=tmp_path, cache_path=tmp_path / ".edgeops" / cache, reporter=NullReporter()
    )


def scan_error(spec: DatasetSpec, tmp_path: Path) -> str:
    """Scan ``spec`` expecting a DatasetError; return its message."""
    with pytest.raises(DatasetError) as info:
        scan(spec, tmp_path)
    return str(info.value)


def problem_lines(message: str) -> list[str]:
    return [line.strip() for line in message.splitlines()[1:]]
