"""Reading a scanned dataset's bytes back: the original bytes, checked against the scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops.datasets import iter_image_bytes
from edgeops.errors import DatasetError

from .conftest import Seeds, image_bytes, make_label_tree, scan, spec_for, tree_members, write_zip


@pytest.mark.parametrize("kind", ["zip", "folder"])
def test_image_bytes_round_trip(tmp_path: Path, seeds: Seeds, kind: str) -> None:
    members = tree_members({"cat": 10, "dog": 10}, seeds)
    if kind == "zip":
        source = write_zip(tmp_path / "d.zip", members)
    else:
        source = tmp_path / "d"
        for name, data in members:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(data)
    spec = spec_for(kind, source)
    m = scan(spec, tmp_path)
    by_name = dict(members)
    got = list(iter_image_bytes(spec, m.images, root=tmp_path))
    assert [r for r, _ in got] == list(m.images)
    for rec, data in got:
        assert (
            data
            == by_name[
                rec.source.split(":", 1)[1] if kind == "zip" else rec.source.split("/", 1)[1]
            ]
        )
    assert list(iter_image_bytes(spec, m.images[:1], root=tmp_path)) == got[:1]


def test_reading_back_detects_a_changed_file(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    spec = spec_for("folder", base)
    m = scan(spec, tmp_path)
    Path(m.images[0].locator).write_bytes(image_bytes(5000))
    with pytest.raises(DatasetError, match="changed since it was scanned; run edgeops plan again"):
        list(iter_image_bytes(spec, m.images[:1], root=tmp_path))
