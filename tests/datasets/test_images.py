"""Format checks: decode every image, never trust the extension."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from edgeops.datasets import images
from edgeops.datasets.images import MAX_IMAGE_BYTES, Inspection, inspect_bytes, inspect_file

from .conftest import Seeds, image_bytes, make_label_tree, problem_lines, scan_error, spec_for


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("PNG", "PNG"),
        ("JPEG", "JPEG"),
        ("GIF", "GIF"),
        ("BMP", "BMP"),
        ("ICO", "ICO"),
        ("WEBP", "WEBP"),
    ],
)
def test_accepted_formats_are_decoded(fmt: str, expected: str) -> None:
    data = image_bytes(1, fmt, size=(16, 12))
    insp = inspect_bytes(data)
    assert insp.ok, insp.error
    assert (insp.format, insp.width, insp.height) == (expected, 16, 12)
    assert insp.size == len(data)
    assert len(insp.sha256) == 64


def test_tiff_is_rejected_with_reason() -> None:
    insp = inspect_bytes(image_bytes(1, "TIFF"))
    assert not insp.ok
    assert "TIFF images are not supported" in insp.error
    assert "convert it to JPEG, PNG" in insp.error


def test_text_named_jpg_is_rejected() -> None:
    insp = inspect_bytes(b"this is not a picture\n" * 10)
    assert "not an image" in insp.error


def test_truncated_jpeg_is_rejected() -> None:
    data = image_bytes(3, "JPEG", size=(64, 64))
    insp = inspect_bytes(data[: len(data) // 2])
    assert "corrupt or truncated image" in insp.error


def test_corrupt_png_is_rejected() -> None:
    data = bytearray(image_bytes(4, "PNG", size=(32, 32)))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # breaks the chunk's CRC / the zlib stream
    insp = inspect_bytes(bytes(data))
    assert "corrupt or truncated image" in insp.error


def test_empty_bytes_are_rejected() -> None:
    assert "empty file (0 bytes)" in inspect_bytes(b"").error


def test_a_file_too_large_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "big.png"
    p.write_bytes(image_bytes(1))
    with p.open("r+b") as f:
        f.truncate(MAX_IMAGE_BYTES + 5)  # sparse: cheap to make

    def no_read(fd: int, n: int) -> bytes:
        raise AssertionError("read a file its size refuses")

    monkeypatch.setattr(images.os, "read", no_read)
    size, mtime_ns, inode, *fields = images.inspect_path(str(p))
    insp = Inspection._make(fields)
    assert "larger than the 30 MB limit" in insp.error
    assert insp.size == size == MAX_IMAGE_BYTES + 5
    st = p.stat()
    assert (mtime_ns, inode) == (st.st_mtime_ns, st.st_ino)


def test_a_file_that_cannot_be_opened_has_no_stat(tmp_path: Path) -> None:
    size, mtime_ns, inode, *fields = images.inspect_path(str(tmp_path / "gone.png"))
    assert (size, mtime_ns, inode) == (0, 0, 0)  # nothing to key a cache row with
    assert Inspection._make(fields).error.startswith("cannot read:")


def test_bad_files_in_a_folder_source_are_all_named(tmp_path: Path, seeds: Seeds) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "TIFF")
    (base / "cat" / "scan.tif").write_bytes(buf.getvalue())
    (base / "cat" / "notes.jpg").write_text("shopping list\n")
    (base / "dog" / "empty.png").write_bytes(b"")
    jpeg = image_bytes(99, "JPEG", size=(64, 64))
    (base / "dog" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])

    message = scan_error(spec_for("folder", base), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: data: 4 problems"
    lines = problem_lines(message)
    assert any(
        line.startswith("data/cat/scan.tif: TIFF images are not supported") for line in lines
    )
    assert any(line.startswith("data/cat/notes.jpg: not an image") for line in lines)
    assert any(
        line.startswith("data/dog/empty.png: empty file (0 bytes); remove it") for line in lines
    )
    assert any(line.startswith("data/dog/cut.jpg: corrupt or truncated image") for line in lines)


def test_31mb_image_is_rejected_before_reading(
    tmp_path: Path, seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "data"
    make_label_tree(base, {"cat": 10, "dog": 10}, seeds)
    big = base / "cat" / "huge.png"
    big.write_bytes(image_bytes(1000))
    with big.open("r+b") as f:
        f.truncate(31 * 1024 * 1024)

    read: list[int] = []
    real = images._read

    def spy(fd: int, size: int) -> bytes:
        read.append(size)
        return real(fd, size)

    monkeypatch.setattr(images, "_read", spy)
    message = scan_error(spec_for("folder", base), tmp_path)
    assert "data/cat/huge.png: 31.0 MB is larger than the 30 MB limit per image" in message
    assert "downscale or recompress it" in message
    # rejected from its size alone: the 20 images were read, not the huge file
    assert len(read) == 20
    assert 31 * 1024 * 1024 not in read


def read_file(path: str) -> bytes:
    """What the reader (``images.inspect_path``) reads of ``path``, whose size fstat gives."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return images._read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, 1 << 20])
def test_read_file_reads_every_byte(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path.write_bytes(data)
    assert read_file(str(path)) == data


def test_read_file_reads_on_when_the_file_grew_after_its_size_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file appended to between fstat and read is read whole (its bytes are what is hashed),
    not cut at the size fstat saw."""
    path = tmp_path / "growing.bin"
    path.write_bytes(b"a" * 1000)
    real_fstat = images.os.fstat

    def stale_fstat(fd: int) -> object:
        st = real_fstat(fd)
        with open(path, "ab") as f:  # grows right after its size was taken
            f.write(b"b" * 5000)
        return st

    monkeypatch.setattr(images.os, "fstat", stale_fstat)
    assert read_file(str(path)) == b"a" * 1000 + b"b" * 5000


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    insp = inspect_file(str(missing))
    assert not insp.ok
    assert insp.error.startswith("cannot read:")
