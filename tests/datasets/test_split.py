"""Content-hash splits: deterministic, stable when images are added, guarded for tiny labels."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from edgeops.config.model import SplitSpec
from edgeops.datasets.split import assign_splits, bucket, hash_split

from .conftest import Seeds, image_bytes, make_label_tree, scan, spec_for, write_zip


def _sha(i: int, prefix: str = "") -> str:
    return hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()


def test_hash_split_rule() -> None:
    spec = SplitSpec(80, 10, 10)
    assert hash_split("00000000" + "f" * 56, spec) == "train"  # bucket 0
    assert bucket(format(79, "08x") + "0" * 56) == 79
    assert hash_split(format(79, "08x") + "0" * 56, spec) == "train"
    assert hash_split(format(80, "08x") + "0" * 56, spec) == "validation"
    assert hash_split(format(89, "08x") + "0" * 56, spec) == "validation"
    assert hash_split(format(90, "08x") + "0" * 56, spec) == "test"
    assert hash_split(format(199, "08x") + "0" * 56, spec) == "test"  # 199 % 100 = 99


def test_split_follows_percentages_roughly() -> None:
    shas = [_sha(i) for i in range(5000)]
    splits = assign_splits(((s, ("x",)) for s in shas), SplitSpec(70, 20, 10))
    counts = {k: list(splits.values()).count(k) for k in ("train", "validation", "test")}
    assert 3300 < counts["train"] < 3700
    assert 850 < counts["validation"] < 1150
    assert 400 < counts["test"] < 600


def test_guard_gives_small_labels_a_validation_and_test_image() -> None:
    spec = SplitSpec(80, 10, 10)
    train_only = [s for s in (_sha(i, "t") for i in range(200)) if hash_split(s, spec) == "train"]
    label_a = train_only[:10]
    splits = assign_splits(((s, ("a",)) for s in label_a), spec)
    ordered = sorted(label_a)
    assert splits[ordered[0]] == "validation"  # smallest sha256 of the donor (train)
    assert splits[ordered[1]] == "test"  # next smallest
    assert all(splits[s] == "train" for s in ordered[2:])

    # The choice depends only on that label's hashes: other labels change nothing for it.
    others = [(_sha(i, "o"), ("b",)) for i in range(50)]
    again = assign_splits([*((s, ("a",)) for s in label_a), *others], spec)
    assert all(again[s] == splits[s] for s in label_a)


def test_guard_leaves_labels_under_10_and_zero_percent_splits_alone() -> None:
    spec = SplitSpec(80, 10, 10)
    train_only = [s for s in (_sha(i, "u") for i in range(100)) if hash_split(s, spec) == "train"]
    splits = assign_splits(((s, ("a",)) for s in train_only[:9]), spec)
    assert set(splits.values()) == {"train"}
    splits = assign_splits(((s, ("a",)) for s in train_only[:20]), SplitSpec(90, 10, 0))
    assert sorted(splits.values()).count("validation") == 1
    assert "test" not in splits.values()


def test_guard_moves_nothing_when_splits_are_populated() -> None:
    shas = [_sha(i, "p") for i in range(300)]
    spec = SplitSpec(80, 10, 10)
    splits = assign_splits(((s, ("a",)) for s in shas), spec)
    assert all(splits[s] == hash_split(s, spec) for s in shas)


def test_adding_images_moves_no_existing_image(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 40, "dog": 40}, seeds)
    spec = spec_for("folder", base)
    before = {r.sha256: r.split for r in scan(spec, tmp_path).images}
    for label in ("cat", "dog"):
        for i in range(30):
            (base / label / f"new{i:03d}.png").write_bytes(image_bytes(seeds()))
    after = {r.sha256: r.split for r in scan(spec, tmp_path).images}
    assert len(after) == 140
    moved = [s for s in before if after[s] != before[s]]
    # Only an image the small-label guard had moved may return to its hash split.
    assert all(after[s] == hash_split(s, spec.split) for s in moved)
    assert all(before[s] != hash_split(s, spec.split) for s in moved)


def test_fingerprint_is_independent_of_paths_order_and_source_kind(
    tmp_path: Path, seeds: Seeds
) -> None:
    a = tmp_path / "a"
    tree = make_label_tree(a, {"cat": 12, "dog": 11}, seeds)
    m_a = scan(spec_for("folder", a), tmp_path)

    b = tmp_path / "b" / "root"  # other file names, a common root folder, reversed order
    for label, paths in tree.items():
        (b / label).mkdir(parents=True)
        for i, p in enumerate(reversed(paths)):
            shutil.copy(p, b / label / f"renamed_{i}.png")
    m_b = scan(spec_for("folder", tmp_path / "b"), tmp_path)

    members = [(f"{label}/{p.name}", p.read_bytes()) for label, ps in tree.items() for p in ps]
    z = write_zip(tmp_path / "c.zip", reversed(members))
    m_c = scan(spec_for("zip", z), tmp_path)

    assert m_a.fingerprint() == m_b.fingerprint() == m_c.fingerprint()
    assert [r.sha256 for r in m_a.images] == [r.sha256 for r in m_c.images]

    (a / "cat" / "img000.png").rename(a / "dog" / "moved.png")  # relabel one image
    assert scan(spec_for("folder", a), tmp_path).fingerprint() != m_a.fingerprint()
    m_multi = scan(spec_for("folder", tmp_path / "b", multi_label=True), tmp_path)
    assert m_multi.fingerprint() != m_b.fingerprint()


def test_near_duplicate_groups_share_their_smallest_member_s_split() -> None:
    spec = SplitSpec(80, 10, 10, group_near_duplicates=True)
    images = [(_sha(i, "g"), ("cat",) if i % 2 else ("dog",)) for i in range(200)]
    alone = assign_splits(images, spec)
    # plant groups that straddle splits by hash: one train image with one held-out image
    train = [s for s, _ in images if alone[s] == "train"]
    held = [s for s, _ in images if alone[s] != "train"]
    groups = [[train[0], held[0]], [held[1], train[1], train[2]]]
    grouped = assign_splits(images, spec, groups)
    for g in groups:
        assert {grouped[s] for s in g} == {hash_split(min(g), spec)}
    in_groups = {s for g in groups for s in g}
    assert all(grouped[s] == alone[s] for s, _ in images if s not in in_groups)
    assert assign_splits(list(reversed(images)), spec, [list(reversed(g)) for g in groups]) == (
        grouped
    )


def test_the_small_label_guard_leaves_groups_whole_when_it_can() -> None:
    spec = SplitSpec(80, 10, 10)
    shas = sorted((_sha(i, "t") for i in range(400)), key=bucket)
    train_only = [s for s in shas if bucket(s) < 80][:12]  # a label with no held-out image
    images = [(s, ("cat",)) for s in train_only]
    first = min(train_only)
    moved_alone = {s for s, split in assign_splits(images, spec).items() if split != "train"}
    assert first in moved_alone  # the guard moves the smallest hashes...
    grouped = assign_splits(images, spec, [[first, train_only[-1]]])
    moved = {s for s, split in grouped.items() if split != "train"}
    assert first not in moved and len(moved) == len(moved_alone)  # ...but not a group's
