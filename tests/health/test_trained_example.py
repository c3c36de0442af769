"""On the really trained example: the plan counts its health from the features training cached,
and the review page's suggestions come from the trained version."""

from __future__ import annotations

from pathlib import Path

import pytest
from trained_example import copy_example, edgeops, ok, trained_example

from edgeops.backends import get_backend
from edgeops.config.loader import load_config
from edgeops.resolve import cache_path
from edgeops.review.session import ReviewSession

pytestmark = pytest.mark.slow


@pytest.fixture
def example(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    return copy_example(trained_example(tmp_path_factory.getbasetemp()), tmp_path / "ex")


def test_health_in_the_plan_and_suggestions_from_the_trained_version(example: Path) -> None:
    out = ok(edgeops(example, "plan"))
    assert (  # training caches most features, not all
        "dataset.objects: imbalance 4.24x ('monument' / 'household_object'), not inspected yet: "
        "run `edgeops inspect dataset.objects`" in out
    )
    ok(edgeops(example, "inspect", "dataset.objects"))
    out = ok(edgeops(example, "plan"))
    line = next(x for x in out.splitlines() if "dataset.objects:" in x)
    assert "3 near-duplicate pairs" in line and "suspected label error" in line
    assert out.rstrip().endswith("No changes.")

    config = load_config(example / "edgeops.yaml")
    session = ReviewSession(
        config.dataset("objects"),
        root=config.root,
        cache_path=cache_path(config),
        backend=get_backend(config),
        models=("model.objects",),
    )
    sugg = session.suggestions()
    assert sugg["available"]
    assert sugg["model"] == {
        "address": "model.objects",
        "version": 1,
        "judges": "validation, test and unlabelled images (the probe judges train images)",
    }
    held = [im for im in session.review.images if im.split in ("validation", "test")]
    labels = {label for im in session.review.images for label in im.labels}
    for im in held:
        p = sugg["predicted"][im.sha256]
        assert p["label"] in labels and 0 < p["confidence"] <= 1
