"""Near-duplicate groups for ``split.group_near_duplicates``: found among a dataset's labelled
images from the image features this machine has cached (``edgeops inspect`` computes them; a
plan never does), with the same threshold and joining as ``edgeops inspect``'s groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeops.addresses import dataset_address
from edgeops.backends.base import CachedFeatures
from edgeops.config.model import DatasetSpec
from edgeops.datasets.split import NearGroups


def near_groups_for(spec: DatasetSpec, backend: Any) -> NearGroups | None:
    """What the scanner asks for ``spec``'s near-duplicate groups; None when the dataset does
    not group them."""
    if not spec.split.group_near_duplicates:
        return None

    def find(shas: Sequence[str]) -> tuple[list[list[str]], str]:
        if not isinstance(backend, CachedFeatures):
            return [], (
                f"split.group_near_duplicates: the {getattr(backend, 'name', '?')} backend has "
                "no image features to find near duplicates with; splits are by hash alone"
            )
        found = backend.cached_image_features(shas)
        if found is None:
            return [], (
                "split.group_near_duplicates is not applied yet: the image features are not "
                f"cached on this machine; run `edgeops inspect {dataset_address(spec.name)}` "
                "and plan again (near duplicates then join one split, which retrains the "
                "dataset's models)"
            )
        from edgeops.health.near import groups, near_pairs

        pairs = near_pairs(found[1], spec.inspect.near_duplicate_similarity)
        return [[shas[i] for i in members] for members, _ in groups(len(shas), pairs)], ""

    return find
