"""Assign train/validation/test from each image's content hash.

Hash rule: ``bucket = int(sha256[:8], 16) % 100``; the image is ``train`` if
``bucket < train``, ``validation`` if ``bucket < train + validation``, else ``test``. An image's
split depends on its bytes only, so adding or removing other images never moves it.

Near-duplicate groups (``split.group_near_duplicates``). Each group of near-duplicate images
(found by the caller from image features) takes the hash split of its member with the smallest
sha256, so near copies never straddle train and validation/test. An image moves only when it
joins a group (or its group gains a member with a smaller hash).

Small-label guard (the only exception). For each label with at least ``MIN_IMAGES_PER_LABEL``
images, in sorted label order, for ``validation`` then ``test`` (each only if its percentage is
above 0): if the label has no image in that split, one of its images moves there:

- donor split: the other split holding the most of the label's images, ties broken by the
  order train, validation, test, and only if it holds at least 2 of them (it is never emptied);
- the moved image: among the donor's images of the label not already moved by the guard, the
  one with the smallest sha256 (preferring images in no near-duplicate group, which would
  otherwise leave their group).

The choice depends only on that label's set of hashes. It is applied only when the hash rule
left that label's split empty, and it undoes itself: once the label gets a hash-assigned image in
that split, the moved image goes back to its hash split. In multi-label datasets an image
carries all its labels along when it moves, and an image moved for one label is not moved again
for a later one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from edgeops.config.model import SPLITS, SplitSpec
from edgeops.datasets.labels import MIN_IMAGES_PER_LABEL

# Finds the near-duplicate groups among a dataset's labelled images (sha256s, sorted) for
# ``split.group_near_duplicates``: (groups of sha256s, a note for the plan when it cannot, else "")
NearGroups = Callable[[Sequence[str]], tuple[list[list[str]], str]]


def bucket(sha256: str) -> int:
    return int(sha256[:8], 16) % 100


def hash_split(sha256: str, spec: SplitSpec) -> str:
    b = bucket(sha256)
    if b < spec.train:
        return "train"
    if b < spec.train + spec.validation:
        return "validation"
    return "test"


def assign_splits(
    images: Iterable[tuple[str, tuple[str, ...]]],
    spec: SplitSpec,
    groups: Iterable[Sequence[str]] = (),
) -> dict[str, str]:
    """sha256 -> split for (sha256, labels) pairs, each of ``groups`` (near duplicates, by
    sha256) in one split, with the small-label guard applied."""
    split: dict[str, str] = {}
    by_label: dict[str, list[str]] = {}
    to_train, to_validation = spec.train, spec.train + spec.validation
    for sha, labels in images:
        b = int(sha[:8], 16) % 100  # hash_split, inlined: 100k calls are a tenth of a plan
        split[sha] = "train" if b < to_train else "validation" if b < to_validation else "test"
        for label in labels:
            by_label.setdefault(label, []).append(sha)
    grouped: set[str] = set()
    for group in groups:
        present = [sha for sha in group if sha in split]
        if len(present) < 2:
            continue
        leader = hash_split(min(present), spec)
        for sha in present:
            split[sha] = leader
        grouped.update(present)

    wanted = [s for s in ("validation", "test") if getattr(spec, s) > 0]
    moved: set[str] = set()
    for label in sorted(by_label):
        shas = by_label[label]
        if len(shas) < MIN_IMAGES_PER_LABEL:
            continue
        for need in wanted:
            members: dict[str, list[str]] = {s: [] for s in SPLITS}
            for sha in shas:
                members[split[sha]].append(sha)
            if members[need]:
                continue
            donors = [s for s in SPLITS if s != need and len(members[s]) >= 2]
            donors.sort(key=lambda s: (-len(members[s]), SPLITS.index(s)))
            for donor in donors:
                candidates = sorted(
                    (sha for sha in members[donor] if sha not in moved),
                    key=lambda sha: (sha in grouped, sha),
                )
                if candidates:
                    split[candidates[0]] = need
                    moved.add(candidates[0])
                    break
    return split
