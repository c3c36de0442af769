"""A copy of examples/labelling (30 real photos, 24 labelled, 6 waiting) for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.resolve import cache_path
from edgeops.review.session import ReviewSession

EXAMPLE = Path(__file__).parents[2] / "examples" / "labelling"
UNLABELLED = (  # the example's images without a row in data/labels.csv, sorted
    "categorization_fish14.jpg",
    "categorization_fish21.jpg",
    "categorization_fish7.jpg",
    "erase_crab.jpg",
    "explore_world_animals_crocodile.jpg",
    "explore_world_animals_lemur.jpg",
)


@pytest.fixture
def labelling_repo(tmp_path: Path) -> Path:
    root = tmp_path / "labelling"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".edgeops"))
    return root


def open_review(root: Path, name: str = "critters") -> ReviewSession:
    config = load_config(root / "edgeops.yaml")
    return ReviewSession(config.dataset(name), root=config.root, cache_path=cache_path(config))
