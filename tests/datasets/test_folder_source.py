"""Folder sources: layout, label rules, counts, duplicates, multi-label, symlinks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .conftest import (
    Seeds,
    image_bytes,
    make_label_tree,
    problem_lines,
    scan,
    scan_error,
    spec_for,
)


def test_folder_dataset(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 12, "dog": 10}, seeds, fmt="JPEG")
    (base / ".git").mkdir()
    (base / ".git" / "HEAD").write_text("ref")
    (base / "cat" / ".gitkeep").write_text("")
    m = scan(spec_for("folder", base), tmp_path)
    assert m.labels() == ("cat", "dog")
    assert len(m.images) == 22 and not m.unlabelled and not m.duplicates
    assert {r.format for r in m.images} == {"JPEG"}
    cat = next(r for r in m.images if r.source == "data/cat/img000.jpg")
    assert cat.labels == ("cat",)
    assert cat.locator == str(base / "cat" / "img000.jpg")
    assert (
        m.label_counts()["cat"]["train"]
        + m.label_counts()["cat"]["validation"]
        + m.label_counts()["cat"]["test"]
        == 12
    )


def test_label_folder_names_are_checked(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"my cat": 10, "čaj": 10, "x" * 33: 10, "ok_1": 10}, seeds)
    message = scan_error(spec_for("folder", base), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: data: 3 problems"
    lines = problem_lines(message)
    assert any(
        line.startswith(
            "data/my cat/: label 'my cat' contains spaces; labels are 1-32 ASCII "
            "letters, digits or underscores; rename the folder (e.g. 'my_cat')"
        )
        for line in lines
    )
    assert any(line.startswith("data/čaj/: label 'čaj' has non-ASCII characters") for line in lines)
    assert any(
        line.startswith(f"data/{'x' * 33}/: label '{'x' * 33}' has 33 characters") for line in lines
    )


def test_top_level_files_and_nested_folders(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    (base / "loose.png").write_bytes(image_bytes(seeds()))
    (base / "dog" / "puppies").mkdir()
    (base / "dog" / "puppies" / "p.png").write_bytes(image_bytes(seeds()))
    message = scan_error(spec_for("folder", base), tmp_path)
    assert (
        "data/loose.png: file outside any label folder; move it into the folder of its label"
        in message
    )
    assert (
        "data/dog/puppies/: nested folder (1 file); "
        "put images directly in their label folder 'dog/'" in message
    )


def test_common_root_folder_is_tolerated(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base / "flower_photos", {"rose": 10, "tulip": 10}, seeds)
    m = scan(spec_for("folder", base), tmp_path)
    assert m.labels() == ("rose", "tulip")


def test_fewer_than_10_is_an_error_fewer_than_100_a_warning(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 9, "dog": 10}, seeds)
    message = scan_error(spec_for("folder", base), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: data: 1 problem"
    assert (
        "data/cat/: label 'cat' has 9 images; AutoML Vision Edge needs at least 10 per label: "
        "add images or remove the label"
    ) in message

    (base / "cat" / "more.png").write_bytes(image_bytes(seeds()))
    m = scan(spec_for("folder", base), tmp_path)
    assert "label 'cat' has 10 images; AutoML recommends at least 100" in m.warnings
    assert "label 'dog' has 10 images; AutoML recommends at least 100" in m.warnings


def test_identical_image_under_two_labels_is_an_error(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    shutil.copy(base / "cat" / "img004.png", base / "dog" / "copy.png")
    message = scan_error(spec_for("folder", base), tmp_path)
    assert "data/cat/img004.png: identical image under label 'dog' as data/dog/copy.png" in message
    assert "delete the wrong copy (or set multi_label: true)" in message


def test_exact_duplicates_are_stored_once(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    shutil.copy(base / "cat" / "img004.png", base / "cat" / "zcopy.png")
    m = scan(spec_for("folder", base), tmp_path)
    assert len(m.images) == 20
    assert m.duplicates == (("data/cat/img004.png", "data/cat/zcopy.png"),)
    assert any("1 exact duplicate image stored once" in w for w in m.warnings)


def test_multi_label_folder_layout(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"beach": 10, "sunset": 10}, seeds)
    shutil.copy(base / "beach" / "img001.png", base / "sunset" / "both.png")
    m = scan(spec_for("folder", base, multi_label=True), tmp_path)
    assert len(m.images) == 20
    both = [r for r in m.images if len(r.labels) == 2]
    assert len(both) == 1 and both[0].labels == ("beach", "sunset")
    assert (
        m.label_counts()["sunset"] == {s: n for s, n in m.label_counts()["sunset"].items()}
        and sum(m.label_counts()["sunset"].values()) == 11
    )
    assert not m.duplicates


def test_symlinks_inside_are_followed_outside_rejected(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    outside = tmp_path / "secret.png"
    outside.write_bytes(image_bytes(seeds()))
    (tmp_path / "elsewhere").mkdir()
    os.symlink(outside, base / "cat" / "link_out.png")
    os.symlink(tmp_path / "elsewhere", base / "dog" / "linked_dir")
    os.symlink(base / "cat" / "img000.png", base / "dog" / "inside.png")  # inside: fine
    message = scan_error(spec_for("folder", base), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: data: 3 problems"
    assert (
        f"data/cat/link_out.png: symlink points outside the dataset folder (to {outside})"
        in message
    )
    assert "data/dog/linked_dir: symlink points outside the dataset folder" in message
    # the inside link is the same image under another label: that is the third problem
    assert "identical image under label" in message

    os.remove(base / "cat" / "link_out.png")
    os.remove(base / "dog" / "linked_dir")
    os.remove(base / "dog" / "inside.png")
    os.symlink(base / "cat" / "img000.png", base / "cat" / "alias.png")
    m = scan(spec_for("folder", base), tmp_path)
    assert m.duplicates == (("data/cat/alias.png", "data/cat/img000.png"),)


def test_problem_list_is_capped(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    for i in range(30):
        (base / "cat" / f"empty{i:02d}.png").write_bytes(b"")
    message = scan_error(spec_for("folder", base), tmp_path)
    lines = message.splitlines()
    assert lines[0] == "datasets.ds: data: 30 problems"
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == "  ... and 10 more"


def test_missing_folder(tmp_path: Path) -> None:
    message = scan_error(spec_for("folder", tmp_path / "nope"), tmp_path)
    assert "datasets.ds: nope: 1 problem\n  nope: folder not found; fix source.folder" in message
