"""CSV index sources (``uri,label[,label...]``) and images + labels_file sources."""

from __future__ import annotations

from pathlib import Path

from .conftest import Seeds, image_bytes, make_label_tree, problem_lines, scan, scan_error, spec_for


def _images(folder: Path, n: int, seeds: Seeds, stem: str = "img") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"{stem}{i:03d}.png"
        p.write_bytes(image_bytes(seeds()))
        out.append(p)
    return out


def test_csv_with_bom_crlf_file_uris_and_escapes(tmp_path: Path, seeds: Seeds) -> None:
    imgs = _images(tmp_path / "my images", 20, seeds)
    rows = ["uri,label"]  # a header row is tolerated
    for i, p in enumerate(imgs):
        label = "cat" if i < 10 else "dog"
        if i % 3 == 0:
            rows.append(f"{p.as_uri()},{label}")  # file:// URI (spaces as %20)
        elif i % 3 == 1:
            rows.append(f"my%20images/{p.name},{label}")  # relative, %-escaped
        else:
            rows.append(f"my images/{p.name},{label},")  # relative, trailing empty cell
    index = tmp_path / "index.csv"
    index.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    m = scan(spec_for("csv", index), tmp_path)
    assert m.labels() == ("cat", "dog")
    assert len(m.images) == 20
    assert {r.source for r in m.images} == {f"my images/{p.name}" for p in imgs}


def test_csv_row_problems_name_their_line(tmp_path: Path, seeds: Seeds) -> None:
    imgs = _images(tmp_path / "img", 22, seeds)
    lines = [f"img/{p.name},{'cat' if i < 11 else 'dog'}" for i, p in enumerate(imgs)]
    lines[2] = "img/missing.png,cat"  # line 3
    lines[4] = f"img/{imgs[4].name},cat,dog"  # line 5: two labels in a single-label dataset
    lines[6] = f"img/{imgs[6].name},"  # line 7: no label
    lines[8] = "gs://bucket/x.png,cat"  # line 9
    lines[9] = f"img/{imgs[9].name},big cat"  # line 10
    lines[10] = f"TRAIN,img/{imgs[10].name},cat"  # line 11: AutoML's ML_USE column
    index = tmp_path / "index.csv"
    index.write_text("\n".join(lines) + "\n")
    message = scan_error(spec_for("csv", index, name="pets"), tmp_path)
    out = problem_lines(message)
    assert message.splitlines()[0].startswith("datasets.pets: index.csv: ")
    assert any(
        x.startswith("index.csv:3: file not found:")
        and "missing.png" in x
        and "fix the path (relative to the CSV's folder) or remove the row" in x
        for x in out
    )
    assert any(
        x.startswith(
            "index.csv:5: 2 labels (cat, dog) in a single-label dataset; "
            "set multi_label: true on datasets.pets"
        )
        for x in out
    )
    assert any(
        x.startswith("index.csv:7: no label; every row of a csv source needs one") for x in out
    )
    assert any(
        x.startswith(
            "index.csv:9: gs://bucket/x.png: gs:// URIs are read by the google backend only"
        )
        for x in out
    )
    assert any(x.startswith("index.csv:10: label 'big cat' contains spaces") for x in out)
    assert any(
        x.startswith("index.csv:11: first column 'TRAIN' is an AutoML ML_USE column") for x in out
    )


def test_csv_multi_label(tmp_path: Path, seeds: Seeds) -> None:
    imgs = _images(tmp_path / "img", 20, seeds)
    lines = [f"img/{p.name},{'beach' if i < 10 else 'forest'}" for i, p in enumerate(imgs)]
    lines += [f"img/{imgs[0].name},sunset,beach"] + [f"img/{p.name},sunset" for p in imgs[10:19]]
    index = tmp_path / "index.csv"
    index.write_text("\n".join(lines) + "\n")
    m = scan(spec_for("csv", index, multi_label=True), tmp_path)
    assert len(m.images) == 20
    first = next(r for r in m.images if r.source == "img/img000.png")
    assert first.labels == ("beach", "sunset")
    assert sum(m.label_counts()["sunset"].values()) == 10


def test_csv_same_image_two_labels_names_both_rows(tmp_path: Path, seeds: Seeds) -> None:
    imgs = _images(tmp_path / "img", 20, seeds)
    lines = [f"img/{p.name},{'cat' if i < 10 else 'dog'}" for i, p in enumerate(imgs)]
    lines.append(f"img/{imgs[0].name},dog")  # line 21
    index = tmp_path / "index.csv"
    index.write_text("\n".join(lines) + "\n")
    message = scan_error(spec_for("csv", index), tmp_path)
    assert (
        "index.csv:1 (img/img000.png): identical image under label 'dog' as "
        "index.csv:21 (img/img000.png)"
    ) in message


def test_csv_not_utf8(tmp_path: Path) -> None:
    index = tmp_path / "index.csv"
    index.write_bytes(b"caf\xe9.png,cat\n")
    assert "index.csv: not UTF-8 (byte 3); save it as UTF-8 CSV" in scan_error(
        spec_for("csv", index), tmp_path
    )


def test_images_source_with_labels_file(tmp_path: Path, seeds: Seeds) -> None:
    folder = tmp_path / "photos"
    imgs = _images(folder / "2024", 25, seeds)
    labels = tmp_path / "labels.csv"
    rows = [f"2024/{p.name},{'cat' if i < 10 else 'dog'}" for i, p in enumerate(imgs[:20])]
    rows.append(f"2024/{imgs[20].name},")  # explicitly unlabelled
    labels.write_text("path,label\r\n" + "\r\n".join(rows) + "\r\n")
    m = scan(spec_for("images", folder, labels_file=labels), tmp_path)
    assert len(m.images) == 20
    assert len(m.unlabelled) == 5
    assert all(r.labels == () for r in m.unlabelled)
    assert {r.source for r in m.unlabelled} == {f"photos/2024/{p.name}" for p in imgs[20:]}
    before = m.fingerprint()

    # Adding unlabelled images does not change what is trained on.
    _images(folder / "new", 3, seeds)
    m2 = scan(spec_for("images", folder, labels_file=labels), tmp_path)
    assert len(m2.unlabelled) == 8 and m2.fingerprint() == before


def test_images_source_row_for_missing_image(tmp_path: Path, seeds: Seeds) -> None:
    folder = tmp_path / "photos"
    imgs = _images(folder, 20, seeds)
    labels = tmp_path / "labels.csv"
    rows = [f"{p.name},{'cat' if i < 10 else 'dog'}" for i, p in enumerate(imgs)]
    rows.insert(3, "gone.png,cat")  # line 4
    rows.append("../outside.png,cat")  # line 22
    (tmp_path / "outside.png").write_bytes(image_bytes(seeds()))
    labels.write_text("\n".join(rows) + "\n")
    message = scan_error(spec_for("images", folder, labels_file=labels), tmp_path)
    assert message.splitlines()[0] == "datasets.ds: photos: 2 problems"
    assert "labels.csv:4: file not found:" in message
    assert "(relative to the images folder) or remove the row" in message
    assert "labels.csv:22: " in message and "is outside the images folder" in message


def test_images_source_labels_file_inside_folder_is_not_an_image(
    tmp_path: Path, seeds: Seeds
) -> None:
    folder = tmp_path / "photos"
    make_label_tree(folder, {"a": 10, "b": 10}, seeds)
    labels = folder / "labels.csv"
    labels.write_text(
        "\n".join(
            f"{p.parent.name}/{p.name},{p.parent.name}" for p in sorted(folder.glob("*/*.png"))
        )
    )
    m = scan(spec_for("images", folder, labels_file=labels), tmp_path)
    assert m.labels() == ("a", "b") and len(m.images) == 20 and not m.unlabelled
