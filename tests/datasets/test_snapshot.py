"""The folder snapshot: an unchanged folder source is not listed again; any change is seen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from edgeops.config.model import SplitSpec
from edgeops.datasets.hashcache import HashCache
from edgeops.datasets.manifest import Manifest
from edgeops.datasets.snapshot import RACY_NS
from edgeops.datasets.sources import Listed

from .conftest import Seeds, image_bytes, make_label_tree, scan, spec_for
from .test_rules import scan_with_rules


def backdate(base: Path) -> None:
    """Every folder under ``base`` changed long enough ago to be trusted (not "racy")."""
    old = time.time_ns() - 10 * RACY_NS
    for folder in [base, *(p for p in base.rglob("*") if p.is_dir())]:
        os.utime(folder, ns=(old, old))


def assert_kept(tmp_path: Path, base: Path) -> None:
    with HashCache(tmp_path / ".edgeops" / "cache.sqlite") as cache:
        assert cache.load_snapshot(os.fspath(base)) is not None


def no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def walk(*args: object, **kw: object) -> object:
        raise AssertionError("listed a folder although the snapshot is unchanged")

    monkeypatch.setattr("edgeops.datasets.scan.walk_folder", walk)


def fresh(spec_path: Path, tmp_path: Path, name: str, **kw: object) -> Manifest:
    """A full scan without any cache, to compare with."""
    return scan(spec_for("folder", spec_path, **kw), tmp_path, cache=name)  # type: ignore[arg-type]


@pytest.fixture
def tree(tmp_path: Path, seeds: Seeds) -> dict[str, list[Path]]:
    base = tmp_path / "data"
    out = make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    backdate(base)
    return out


def test_unchanged_folder_is_not_listed_again(
    tmp_path: Path, tree: dict[str, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for("folder", tmp_path / "data")
    first = scan(spec, tmp_path)
    no_walk(monkeypatch)
    second = scan(spec, tmp_path)
    assert second == first
    assert second.fingerprint() == first.fingerprint()
    assert second.images[0].locator == first.images[0].locator


def test_file_rewritten_in_place_with_the_same_size_is_seen(
    tmp_path: Path, tree: dict[str, list[Path]]
) -> None:
    spec = spec_for("folder", tmp_path / "data")
    first = scan(spec, tmp_path)
    assert_kept(tmp_path, tmp_path / "data")
    target = tree["cat"][0]
    before = target.stat()
    replacement = next(
        data for seed in range(1000, 1100) if len(data := image_bytes(seed)) == before.st_size
    )
    with open(target, "r+b") as f:  # in place: same inode, same size
        f.write(replacement)
    # a later mtime, as any write gives (set here: a coarse clock might not have ticked yet)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    after = target.stat()
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    # its folder did not change: the snapshot's check of the folders passes, the file's fails

    second = scan(spec, tmp_path)
    assert second != first
    assert second.fingerprint() != first.fingerprint()
    assert second == fresh(tmp_path / "data", tmp_path, "fresh.sqlite")


def test_added_and_removed_files_are_seen(
    tmp_path: Path, tree: dict[str, list[Path]], seeds: Seeds
) -> None:
    spec = spec_for("folder", tmp_path / "data")
    first = scan(spec, tmp_path)
    assert_kept(tmp_path, tmp_path / "data")
    (tmp_path / "data" / "dog" / "new.png").write_bytes(image_bytes(seeds()))
    added = scan(spec, tmp_path)
    assert len(added.images) == len(first.images) + 1
    assert added == fresh(tmp_path / "data", tmp_path, "fresh1.sqlite")

    backdate(tmp_path / "data")
    scan(spec, tmp_path)
    assert_kept(tmp_path, tmp_path / "data")  # kept again now that the folders are old enough
    tree["cat"][5].unlink()
    removed = scan(spec, tmp_path)
    assert len(removed.images) == len(first.images)
    assert removed == fresh(tmp_path / "data", tmp_path, "fresh2.sqlite")


def test_renamed_folder_is_seen_even_with_its_parent_mtime_set_back(
    tmp_path: Path, tree: dict[str, list[Path]]
) -> None:
    base = tmp_path / "data"
    spec = spec_for("folder", base)
    first = scan(spec, tmp_path)
    assert_kept(tmp_path, base)
    kept = base.stat()
    (base / "cat").rename(base / "kitty")
    os.utime(base, ns=(kept.st_atime_ns, kept.st_mtime_ns))  # as if the parent never changed
    second = scan(spec, tmp_path)
    assert second.labels() == ("dog", "kitty")
    assert second.fingerprint() != first.fingerprint()
    assert second == fresh(base, tmp_path, "fresh.sqlite")


def test_recently_changed_folder_is_listed_every_time(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder changed within the clock's resolution of the walk could change again without
    # its mtime moving: it is never trusted, so the next scan lists it.
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    spec = spec_for("folder", base)
    first = scan(spec, tmp_path)
    calls: list[object] = []
    import edgeops.datasets.scan as scan_module

    real = scan_module.walk_folder

    def counting(*args: object, **kw: object) -> object:
        calls.append(args)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "walk_folder", counting)
    assert scan(spec, tmp_path) == first
    assert len(calls) == 1


def test_other_inputs_are_not_taken_from_the_snapshot(
    tmp_path: Path, tree: dict[str, list[Path]]
) -> None:
    base = tmp_path / "data"
    scan(spec_for("folder", base), tmp_path)
    split = SplitSpec(train=50, validation=25, test=25)
    other = scan(spec_for("folder", base, split=split), tmp_path)
    assert other == fresh(base, tmp_path, "fresh.sqlite", split=split)
    multi = scan(spec_for("folder", base, multi_label=True), tmp_path)
    assert multi.multi_label


def test_backend_rules_are_asked_again(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"1st": 10, "cat": 10}, seeds)
    backdate(base)
    spec = spec_for("folder", base)
    scan(spec, tmp_path)  # edgeops' own rules take it: kept
    assert_kept(tmp_path, base)
    assert "starts with a digit" in scan_with_rules(spec, tmp_path)


def test_near_duplicate_grouping_is_asked_again_on_every_scan(
    tmp_path: Path, tree: dict[str, list[Path]]
) -> None:
    """With ``split.group_near_duplicates`` the splits depend on cached image features, which
    change without any file changing: the snapshot is not used, the groups are asked every time."""
    from edgeops.datasets.scan import scan_dataset
    from edgeops.progress import NullReporter

    asked: list[int] = []
    found: list[list[str]] = []

    def near(shas: object) -> tuple[list[list[str]], str]:
        asked.append(len(shas))  # type: ignore[arg-type]
        return found, ""

    spec = spec_for("folder", tmp_path / "data", split=SplitSpec(group_near_duplicates=True))
    cache_path = tmp_path / ".edgeops" / "cache.sqlite"

    def scan_grouped() -> Manifest:
        return scan_dataset(
            spec, root=tmp_path, cache_path=cache_path, reporter=NullReporter(), near=near
        )

    first = scan_grouped()
    split_of = {r.sha256: r.split for r in first.images}
    train = next(s for s, sp in split_of.items() if sp == "train")
    held = next(s for s, sp in split_of.items() if sp != "train")
    found.append(sorted([train, held]))  # features now cached: the two are near duplicates
    second = scan_grouped()
    assert asked == [24, 24]
    moved = {r.sha256: r.split for r in second.images}
    assert moved[train] == moved[held]  # the group's split, though no file changed


def test_a_first_scan_keys_everything_with_the_stats_of_the_files_it_read(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first scan's walk does not stat the files (their readers do): the snapshot and the
    per-file cache still hold each file's real (size, mtime_ns, inode)."""
    base = tmp_path / "data"
    tree = make_label_tree(base, {"cat": 12, "dog": 11}, seeds)
    backdate(base)
    from edgeops.datasets.problems import Problems
    from edgeops.datasets.sources import walk_folder

    listing: list[Listed] = []
    walked = walk_folder(base, tmp_path, Problems(), listing, lazy=True)
    assert walked and not any(st.known for _, st in walked)  # the walk stat'ed no file
    assert listing and all(d.stats is None for d in listing)
    scan(spec_for("folder", base), tmp_path)
    files = [p for paths in tree.values() for p in paths]
    with HashCache(tmp_path / ".edgeops" / "cache.sqlite") as cache:
        stored = cache.load_snapshot(os.fspath(base))
        rows = cache.load_files(os.fspath(base))
    assert stored is not None
    import json

    folders = json.loads(stored.folders)
    stats = json.loads(stored.stats)
    expected: list[int] = []
    for folder, _inode, _mtime, names in folders:
        for name in names:
            st = os.stat(folder + name)
            expected += (st.st_size, st.st_mtime_ns, st.st_ino)
    assert stats == expected and len(stats) == 3 * len(files)
    for p in files:
        st = p.stat()
        assert (rows[str(p)].size, rows[str(p)].mtime_ns, rows[str(p)].inode) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
        )
    no_walk(monkeypatch)  # and the next scan takes the snapshot
    assert len(scan(spec_for("folder", base), tmp_path).images) == 23


def test_a_manifest_with_unlabelled_images_and_duplicates_round_trips(
    tmp_path: Path, seeds: Seeds
) -> None:
    from edgeops.datasets.snapshot import decode_manifest, encode_manifest

    base = tmp_path / "images"
    tree = make_label_tree(base, {"cat": 12, "dog": 12}, seeds)
    (base / "unlabelled.png").write_bytes(image_bytes(999))
    (base / "copy.png").write_bytes(tree["cat"][0].read_bytes())  # a duplicate, unlabelled
    labels = tmp_path / "labels.csv"
    rows = [f"{p.parent.name}/{p.name},{label}" for label, ps in tree.items() for p in ps]
    labels.write_text("path,label\n" + "\n".join(rows) + "\n")
    manifest = scan(spec_for("images", base, labels_file=labels), tmp_path)
    assert manifest.duplicates and manifest.unlabelled
    again = decode_manifest(encode_manifest(manifest))
    assert again == manifest
    assert again.fingerprint() == manifest.fingerprint()
