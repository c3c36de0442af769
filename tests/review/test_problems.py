"""The review lists the problems the import finds (the scanner's own messages) instead of
raising them, and groups those about images for the page's filters."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.datasets import scan_dataset
from edgeops.errors import DatasetError
from edgeops.progress import NullReporter
from edgeops.review.problems import review_dataset

from .conftest import UNLABELLED


def scan_both(root: Path):  # type: ignore[no-untyped-def]
    config = load_config(root / "edgeops.yaml")
    spec = config.dataset("critters")
    cache = root / ".edgeops" / "cache" / "hashes.sqlite"
    review = review_dataset(spec, root=root, cache_path=cache)
    with pytest.raises(DatasetError) as raised:
        scan_dataset(spec, root=root, cache_path=cache, reporter=NullReporter())
    return review, str(raised.value)


def test_clean_example_has_only_warnings(labelling_repo: Path) -> None:
    config = load_config(labelling_repo / "edgeops.yaml")
    review = review_dataset(
        config.dataset("critters"), root=labelling_repo, cache_path=labelling_repo / "c.sqlite"
    )
    assert review.problems == () and review.rejected == ()
    assert review.under(100) == ("animal", "fish") and review.under(10) == ()
    assert len(review.warnings) == 2
    assert [im.path for im in review.images if not im.labels] == list(UNLABELLED)
    assert all(im.split for im in review.images if im.labels)


def test_problems_are_listed_not_raised(labelling_repo: Path) -> None:
    images = labelling_repo / "data" / "images"
    (images / "notes.txt").write_text("not an image")
    (images / "broken.jpg").write_bytes((images / "erase_pika.jpg").read_bytes()[:2000])
    shutil.copy(images / "erase_crab.jpg", images / "crab_copy.jpg")  # a duplicate
    shutil.copy(images / "erase_pika.jpg", images / "pika_copy.jpg")  # ... labelled differently
    labels = labelling_repo / "data" / "labels.csv"
    rows = labels.read_text().splitlines()
    rows = [r for r in rows if not r.endswith(",fish")][:-1]  # animal: 11 images, fish: none
    rows += [
        "pika_copy.jpg,fish",  # the same image as erase_pika (animal): a conflict
        "erase_crab.jpg,bird",  # bird: 1 image
        "erase_giraffe.jpg,fish",  # a second row for the same image: a conflict
    ]
    labels.write_text("\n".join(rows) + "\n")

    review, message = scan_both(labelling_repo)

    assert {r.path: r.reason.split(" (")[0] for r in review.rejected} == {
        "data/images/notes.txt": "not an image",
        "data/images/broken.jpg": "corrupt or truncated image",
    }
    for r in review.rejected:
        assert r.reason in message  # the scanner's own words
    assert review.duplicates == {
        "crab_copy.jpg",
        "erase_crab.jpg",
        "erase_pika.jpg",
        "pika_copy.jpg",
    }
    assert review.conflicts == {"erase_pika.jpg", "pika_copy.jpg", "erase_giraffe.jpg"}
    assert review.under(10) == ("bird",) and review.under(100) == ("animal", "bird")
    listed = "\n".join(p.line() for p in review.problems)
    assert "label 'bird' has 1 image" in listed and "identical image" in listed
    assert "is also labelled on data/labels.csv" in listed
    for p in review.problems:
        assert p.what in message
    assert "broken.jpg" not in {im.path for im in review.images}
