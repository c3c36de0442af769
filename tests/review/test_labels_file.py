"""The labels file writer: the scanner reads back what it writes; stable, small diffs."""

from __future__ import annotations

from pathlib import Path

from edgeops.datasets.csv_index import read_rows
from edgeops.datasets.problems import Problems
from edgeops.review.labels_file import LabelsFile


def setup(tmp_path: Path, text: bytes | None) -> tuple[Path, Path]:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "c.jpg", "sub/d.jpg"):
        (images / name).write_bytes(b"x")
    file = tmp_path / "labels.csv"
    if text is not None:
        file.write_bytes(text)
    return file, images


def test_new_file_gets_a_header_and_sorted_rows(tmp_path: Path) -> None:
    file, images = setup(tmp_path, None)
    lf = LabelsFile.read(file, images)
    lf.set("sub/d.jpg", ("dog",))
    lf.set("a.jpg", ("cat",))
    lf.write()
    assert file.read_text() == "path,label\na.jpg,cat\nsub/d.jpg,dog\n"


def test_spreadsheet_input_is_normalised_only_where_changed(tmp_path: Path) -> None:
    text = "\ufeffimage,labels\r\n c.jpg , dog ,,\r\n\r\n./b.jpg,cat\r\ngs://x/y.jpg,cat\r\n"
    file, images = setup(tmp_path, text.encode())
    lf = LabelsFile.read(file, images)
    assert lf.header == ("image", "labels")
    assert lf.labels_of("b.jpg", multi_label=False) == ("cat",)
    lf.set("a.jpg", ("cat",))
    lf.write()
    # header kept, BOM and CRLF gone, rows sorted, the row it cannot read kept as it was
    assert file.read_text() == "image,labels\na.jpg,cat\nb.jpg,cat\nc.jpg,dog\ngs://x/y.jpg,cat\n"


def test_unlabel_removes_the_row_and_conflicting_rows_collapse(tmp_path: Path) -> None:
    file, images = setup(tmp_path, b"path,label\na.jpg,cat\nb.jpg,cat\nb.jpg,dog\n")
    lf = LabelsFile.read(file, images)
    assert lf.labels_of("b.jpg", multi_label=False) == ("cat",)  # the scanner keeps the first
    assert lf.labels_of("b.jpg", multi_label=True) == ("cat", "dog")  # ... or merges them
    lf.set("b.jpg", ("dog",))
    lf.set("a.jpg", ())
    lf.write()
    assert file.read_text() == "path,label\nb.jpg,dog\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".labels.csv")]


def test_the_scanner_reads_what_it_writes(tmp_path: Path) -> None:
    file, images = setup(tmp_path, None)
    lf = LabelsFile.read(file, images)
    lf.set("c.jpg", ("zebra", "cat", "cat"))
    lf.set("sub/d.jpg", ("dog",))
    lf.write()
    problems = Problems()
    rows = read_rows(
        file,
        base=images,
        shown="labels.csv",
        kind="images",
        multi_label=True,
        dataset="pets",
        problems=problems,
    )
    assert not problems
    assert [(Path(r.path).relative_to(images).as_posix(), r.labels) for r in rows] == [
        ("c.jpg", ("cat", "zebra")),
        ("sub/d.jpg", ("dog",)),
    ]
    assert LabelsFile.read(file, images).render() == file.read_bytes()  # a fixed point
