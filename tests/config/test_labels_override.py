"""``source.labels_override`` (zip, folder, csv) and ``inspect.near_duplicate_similarity``."""

from __future__ import annotations

from edgeops.config.loader import load_config

from .conftest import MINIMAL, Write, problems


def test_override_file_and_inspect_options_are_typed(write: Write) -> None:
    text = MINIMAL.replace(
        "source: {zip: data/flowers.zip}",
        "source: {zip: data/flowers.zip, labels_override: data/flowers.labels.csv}\n"
        "    inspect: {near_duplicate_similarity: 0.9}",
    )
    path = write(text)
    spec = load_config(path).dataset("flowers")
    assert spec.source.labels_override == path.parent / "data" / "flowers.labels.csv"
    assert spec.inspect.near_duplicate_similarity == 0.9
    plain = load_config(write(MINIMAL)).dataset("flowers")
    assert plain.source.labels_override is None
    assert plain.inspect.near_duplicate_similarity == 0.95


def test_override_is_not_for_images_sources(write: Write) -> None:
    path = write(
        MINIMAL.replace(
            "source: {zip: data/flowers.zip}",
            "source: {images: data/x, labels_file: l.csv, labels_override: o.csv}",
        )
    )
    assert problems(path) == [
        "edgeops.yaml:4: datasets.flowers.source.labels_override: labels_override is for "
        "sources that carry their own labels (zip, folder, csv); an `images` source is "
        "relabelled in its labels_file: remove labels_override"
    ]
