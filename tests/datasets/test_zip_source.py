"""Structured zip sources: layout, the real example, and safety (traversal, links, bombs)."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from edgeops.datasets import zipsource
from edgeops.datasets.images import Inspection

from .conftest import (
    Seeds,
    image_bytes,
    problem_lines,
    scan,
    scan_error,
    spec_for,
    tree_members,
    write_zip,
)

EXAMPLE_ZIP = Path(__file__).resolve().parents[2] / "examples" / "objects" / "data" / "objects.zip"


def test_real_example_zip(tmp_path: Path) -> None:
    root = EXAMPLE_ZIP.parent.parent
    from edgeops.datasets import scan_dataset
    from edgeops.progress import NullReporter

    m = scan_dataset(
        spec_for("zip", EXAMPLE_ZIP, name="objects"),
        root=root,
        cache_path=tmp_path / "cache.sqlite",
        reporter=NullReporter(),
    )
    assert len(m.images) == 212
    assert m.labels() == (
        "animal",
        "fish",
        "household_object",
        "monument",
        "renewable_energy",
        "tool",
    )
    assert sum(sum(c.values()) for c in m.label_counts().values()) == 212
    assert "label 'tool' has 38 images; AutoML recommends at least 100" in m.warnings
    assert len([w for w in m.warnings if "recommends at least 100" in w]) == 6
    assert all(r.format == "JPEG" and r.source.startswith("data/objects.zip:") for r in m.images)
    assert [r.sha256 for r in m.images] == sorted(r.sha256 for r in m.images)
    for counts in m.label_counts().values():  # every label can be validated and tested
        assert counts["validation"] >= 1 and counts["test"] >= 1


def test_zip_with_common_root_and_junk(tmp_path: Path, seeds: Seeds) -> None:
    members = tree_members({"cat": 10, "dog": 12}, seeds, prefix="pets/")
    members += [
        ("__MACOSX/pets/cat/._img000.png", b"\x00\x05\x16\x07junk"),
        ("pets/.DS_Store", b"junk"),
        ("pets/cat/Thumbs.db", b"junk"),
    ]
    z = write_zip(tmp_path / "pets.zip", members)
    m = scan(spec_for("zip", z), tmp_path)
    assert m.labels() == ("cat", "dog")
    assert len(m.images) == 22
    assert m.images[0].source.startswith("pets.zip:pets/")


def test_zip_files_at_top_level_and_bad_labels(tmp_path: Path, seeds: Seeds) -> None:
    members = tree_members({"cat": 10, "my cat": 10, "café": 10, "a" * 33: 10}, seeds)
    members.append(("readme.png", image_bytes(seeds())))
    z = write_zip(tmp_path / "d.zip", members)
    message = scan_error(spec_for("zip", z), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: d.zip: 4 problems"
    lines = problem_lines(message)
    assert "d.zip:readme.png: file outside any label folder; move it into the folder" in message
    assert any(
        line.startswith("d.zip:my cat/: label 'my cat' contains spaces; labels are 1-32 ASCII")
        and "rename the folder (e.g. 'my_cat')" in line
        for line in lines
    )
    assert any(line.startswith("d.zip:café/: label 'café' has non-ASCII") for line in lines)
    assert any(
        line.startswith(f"d.zip:{'a' * 33}/: label '{'a' * 33}' has 33 characters")
        for line in lines
    )


def test_zip_entries_escaping_are_rejected(tmp_path: Path, seeds: Seeds) -> None:
    members = tree_members({"cat": 10, "dog": 10}, seeds)
    members += [
        ("../evil/x.png", image_bytes(seeds())),
        ("/etc/cron.d/x.png", image_bytes(seeds())),
        ("cat/../../y.png", image_bytes(seeds())),
    ]
    z = write_zip(tmp_path / "d.zip", members)
    message = scan_error(spec_for("zip", z), tmp_path)
    assert "d.zip:../evil/x.png: path with '..' (points outside the zip's folder)" in message
    assert "d.zip:cat/../../y.png: path with '..'" in message
    assert "d.zip:/etc/cron.d/x.png: absolute path in the zip; rejected for safety" in message


def test_zip_symlink_entry_is_rejected(tmp_path: Path, seeds: Seeds) -> None:
    z = tmp_path / "d.zip"
    write_zip(z, tree_members({"cat": 10, "dog": 10}, seeds))
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo("cat/passwd.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../../etc/passwd")
    message = scan_error(spec_for("zip", z), tmp_path)
    assert "d.zip:cat/passwd.png: symlink entry (to '../../../etc/passwd')" in message
    assert "store the image itself in the zip" in message


def _patch_declared_size(path: Path, name: str, size: int) -> None:
    """Overwrite the uncompressed size of ``name`` in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        offset = zf.getinfo(name).header_offset
        central = zf.start_dir
    struct.pack_into("<I", data, offset + 22, size)  # local header: uncompressed size
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, size)  # central header: uncompressed size
    path.write_bytes(bytes(data))


def test_zip_bomb_by_ratio_is_not_inflated(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = tree_members({"cat": 10, "dog": 10}, seeds)
    members.append(("cat/bomb.png", bytes(20 * 1024 * 1024)))  # ~20 kB compressed
    z = write_zip(tmp_path / "d.zip", members)
    read: list[str] = []
    real = zipsource._Reader.inspect

    def spy(self: zipsource._Reader, info: zipfile.ZipInfo) -> Inspection:
        read.append(info.filename)
        return real(self, info)

    monkeypatch.setattr(zipsource._Reader, "inspect", spy)
    message = scan_error(spec_for("zip", z), tmp_path)
    assert "d.zip:cat/bomb.png: compression ratio" in message
    assert "(possible zip bomb)" in message
    assert "cat/bomb.png" not in read


def test_zip_bomb_by_declared_total(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    z = write_zip(tmp_path / "d.zip", tree_members({"cat": 10, "dog": 10}, seeds))
    _patch_declared_size(z, "cat/img003.png", 0xF000_0000)  # claims 3.75 GiB
    monkeypatch.setattr(
        zipsource._Reader, "inspect", lambda self, info: pytest.fail("read a member of a bomb")
    )
    message = scan_error(spec_for("zip", z), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: d.zip: 1 problem"
    assert "d.zip: entries declare 3.8 GiB uncompressed, more than the 2.0 GiB limit" in message


def test_zip_total_limit_is_overridable(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    z = write_zip(tmp_path / "d.zip", tree_members({"cat": 10, "dog": 10}, seeds))
    monkeypatch.setattr(zipsource, "MAX_ZIP_TOTAL_BYTES", 1000)
    assert "possible zip bomb" in scan_error(spec_for("zip", z), tmp_path)


def test_zip_entry_inflating_past_its_declared_size(tmp_path: Path, seeds: Seeds) -> None:
    members = tree_members({"cat": 10, "dog": 10}, seeds)
    members.append(("dog/liar.png", bytes(500_000)))
    z = write_zip(tmp_path / "d.zip", members)
    _patch_declared_size(z, "dog/liar.png", 1000)
    message = scan_error(spec_for("zip", z), tmp_path)
    line = next(x for x in problem_lines(message) if x.startswith("d.zip:dog/liar.png:"))
    assert "corrupt zip entry" in line or "inflates to more than its declared" in line


def test_reader_counts_actual_bytes_against_declared(tmp_path: Path) -> None:
    # Make zipfile itself trust a lying header: the reader must still stop at the declared size.
    z = write_zip(tmp_path / "d.zip", [("cat/a.png", bytes(3 * 1024 * 1024))])
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("cat/a.png")
    info.file_size = 1024 * 1024  # what a lying header would declare
    reader = zipsource._Reader(z)
    try:
        insp = reader.inspect(info)
    finally:
        reader.close()
    assert not insp.ok
    assert "more than its declared" in insp.error or "corrupt zip entry" in insp.error


def test_not_a_zip(tmp_path: Path) -> None:
    z = tmp_path / "d.zip"
    z.write_text("hello")
    assert "d.zip: not a readable zip file" in scan_error(spec_for("zip", z), tmp_path)
    assert "zip file not found" in scan_error(spec_for("zip", tmp_path / "nope.zip"), tmp_path)
