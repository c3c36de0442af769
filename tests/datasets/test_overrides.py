"""A labels overrides file on top of a zip, folder or csv source: relabel, remove, by sha256
prefix (a renamed file keeps its override) or by path; stale rows warn, bad rows are errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

from edgeops.config.model import DatasetSpec, SourceSpec, SplitSpec
from edgeops.datasets.overrides import Override, read_overrides, render_overrides
from edgeops.datasets.problems import Problems
from edgeops.plan.datasets import dataset_diff, summarize_dataset_diff
from edgeops.state import ImageRow

from .conftest import (
    Seeds,
    image_bytes,
    make_label_tree,
    problem_lines,
    scan,
    scan_error,
    tree_members,
    write_zip,
)


def spec(kind: str, path: Path, override: Path, multi_label: bool = False) -> DatasetSpec:
    return DatasetSpec(
        name="ds",
        source=SourceSpec(kind, path, labels_override=override),  # type: ignore[arg-type]
        multi_label=multi_label,
        split=SplitSpec(),
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rows(manifest):  # type: ignore[no-untyped-def]
    return tuple(ImageRow(r.sha256, r.labels, r.split) for r in manifest.images)


def test_zip_relabel_remove_and_plan_counts(tmp_path: Path, seeds: Seeds) -> None:
    members = tree_members({"cat": 12, "dog": 12}, seeds)
    z = write_zip(tmp_path / "pets.zip", members)
    override = tmp_path / "pets.labels.csv"
    before = scan(spec("zip", z, override), tmp_path)  # no file yet: no overrides
    assert len(before.images) == 24
    relabel, remove = members[0], members[1]
    override.write_text(
        "image,sha256,label\n"
        f"{relabel[0]},{sha(relabel[1])[:12]},dog\n"
        f"{remove[0]},{sha(remove[1])[:12]},-\n"
    )
    after = scan(spec("zip", z, override), tmp_path)
    by_sha = {r.sha256: r for r in after.images}
    assert by_sha[sha(relabel[1])].labels == ("dog",)
    assert sha(remove[1]) not in by_sha and len(after.images) == 23
    assert after.fingerprint() != before.fingerprint()
    diff = dataset_diff(rows(after), rows(before))
    assert summarize_dataset_diff(diff) == "-1 images, 1 relabelled"
    assert diff["dog"]["relabelled_in"] == 1 and diff["cat"]["relabelled_out"] == 1


def test_a_renamed_file_keeps_its_override_and_a_path_row_works(
    tmp_path: Path, seeds: Seeds
) -> None:
    files = make_label_tree(tmp_path / "pets", {"cat": 12, "dog": 11}, seeds)
    moved = files["cat"][0]
    data = moved.read_bytes()
    override = tmp_path / "pets.labels.csv"
    override.write_text(
        f"image,sha256,label\ncat/img000.png,{sha(data)[:8]},dog\ncat/img001.png,,dog\n"
    )
    moved.rename(moved.with_name("renamed.png"))
    m = scan(spec("folder", tmp_path / "pets", override), tmp_path)
    labels = {r.sha256: r.labels for r in m.images}
    assert labels[sha(data)] == ("dog",)
    assert labels[sha(files["cat"][1].read_bytes())] == ("dog",)
    assert sum(m.label_counts()["dog"].values()) == 13


def test_csv_source_paths_are_relative_to_the_csv(tmp_path: Path, seeds: Seeds) -> None:
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(21):
        (tmp_path / "img" / f"{i}.png").write_bytes(image_bytes(seeds()))
        lines.append(f"img/{i}.png,{'a' if i < 11 else 'b'}")
    (tmp_path / "index.csv").write_text("\n".join(lines) + "\n")
    override = tmp_path / "o.csv"
    override.write_text("image,sha256,label\nimg/0.png,,b\n")
    m = scan(spec("csv", tmp_path / "index.csv", override), tmp_path)
    assert sum(sum(c.values()) for label, c in m.label_counts().items() if label == "b") == 11


def test_stale_rows_warn_and_bad_rows_are_errors(tmp_path: Path, seeds: Seeds) -> None:
    z = write_zip(tmp_path / "pets.zip", tree_members({"cat": 10, "dog": 10}, seeds))
    override = tmp_path / "o.csv"
    override.write_text("image,sha256,label\ngone.png,0123456789ab,cat\n")
    m = scan(spec("zip", z, override), tmp_path)
    assert any("o.csv:2: no image of the source has sha256 0123456789ab" in w for w in m.warnings)
    override.write_text(
        "image,sha256,label\n"
        "a.png,xyz,cat\n"
        "b.png,,cat,dog\n"
        "c.png,,-,cat\n"
        "d.png,,bad label\n"
        "cat/img000.png,,dog\n"
        "cat/img000.png,,cat\n"
    )
    lines = problem_lines(scan_error(spec("zip", z, override), tmp_path))
    assert lines[0].startswith("o.csv:2: 'xyz' is not a sha256 prefix")
    assert lines[1].startswith("o.csv:3: 2 labels (cat, dog) in a single-label dataset")
    assert lines[2].startswith("o.csv:4: '-' removes the image: write it alone")
    assert lines[3].startswith("o.csv:5: label 'bad label' contains spaces")
    assert lines[4] == "o.csv:7: cat/img000.png is also overridden on o.csv:6; keep one row"


def test_rows_round_trip_sorted(tmp_path: Path) -> None:
    written = [
        Override(0, "", "b/2.jpg", "9b1e04c2aa70", (), exclude=True),
        Override(0, "", "a/1.jpg", "3f2a9c01d4e5", ("fish",)),
    ]
    text = render_overrides(written).decode()
    assert text == "image,sha256,label\na/1.jpg,3f2a9c01d4e5,fish\nb/2.jpg,9b1e04c2aa70,-\n"
    f = tmp_path / "o.csv"
    f.write_text(text)
    problems = Problems()
    back = read_overrides(f, shown="o.csv", multi_label=False, dataset="ds", problems=problems)
    assert not problems and [(r.image, r.labels, r.exclude) for r in back] == [
        ("a/1.jpg", ("fish",), False),
        ("b/2.jpg", (), True),
    ]
