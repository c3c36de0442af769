"""Shared fixtures for the engine, backend and CLI tests: small, distinct generated images."""

from __future__ import annotations

import hashlib
import itertools
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MakeImages = Callable[[Path, dict[str, int]], list[Path]]


def write_noise_png(path: Path, seed: int) -> Path:
    """A tiny PNG of random noise from ``seed``: distinct seeds give distinct pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, format="PNG")
    return path


@pytest.fixture
def make_images(request: pytest.FixtureRequest) -> MakeImages:
    """``make_images(folder, {"cat": 12})`` writes ``folder/cat/NNN.png`` (appending after any).

    The pixels depend only on the test's id and the call order inside the test, never on which
    tests ran before: content hashes, and so splits, are the same in every run.
    """
    base = int(hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12], 16)
    seeds: Iterator[int] = itertools.count(base)

    def _make(folder: Path, counts: dict[str, int]) -> list[Path]:
        out = []
        for label, n in counts.items():
            start = len(list((folder / label).glob("*.png"))) if (folder / label).exists() else 0
            out += [
                write_noise_png(folder / label / f"{start + i:03d}.png", next(seeds))
                for i in range(n)
            ]
        return out

    return _make


DATASET_ONLY = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
"""


@pytest.fixture
def repo(tmp_path: Path, make_images: MakeImages) -> Path:
    """A repository with edgeops.yaml and a `folder:` dataset `pets` (12 cats, 12 dogs)."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "edgeops.yaml").write_text(textwrap.dedent(DATASET_ONLY).lstrip())
    make_images(root / "data", {"cat": 12, "dog": 12})
    return root
