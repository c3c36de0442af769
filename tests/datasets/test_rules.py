"""A backend's DataRules (edgeops.datasets.rules) refuse labels and image formats at scan time,
named by the label's folder or CSV line and by the image's file; without rules the scan accepts
them (edgeops' own rules, which the local backend trains on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops.config.model import DatasetSpec
from edgeops.datasets import scan_dataset
from edgeops.errors import DatasetError
from edgeops.progress import NullReporter

from .conftest import Seeds, image_bytes, make_label_tree, problem_lines, scan, spec_for


class NoDigitsFirstNoWebp:
    """A stricter trainer, as a backend would describe it."""

    def label_problem(self, label: str) -> str:
        return f"label '{label}' starts with a digit" if label[0].isdigit() else ""

    def format_problem(self, fmt: str) -> str:
        return f"{fmt} is refused" if fmt == "WEBP" else ""


def scan_with_rules(spec: DatasetSpec, tmp_path: Path) -> str:
    with pytest.raises(DatasetError) as info:
        scan_dataset(
            spec,
            root=tmp_path,
            cache_path=tmp_path / ".edgeops" / "cache.sqlite",
            reporter=NullReporter(),
            rules=NoDigitsFirstNoWebp(),
        )
    return str(info.value)


def test_folder_labels_and_formats(tmp_path: Path, seeds: Seeds) -> None:
    make_label_tree(tmp_path / "data", {"1st": 10, "cat": 10}, seeds)
    (tmp_path / "data" / "cat" / "x.webp").write_bytes(image_bytes(seeds(), "WEBP"))
    spec = spec_for("folder", tmp_path / "data")
    assert len(scan(spec, tmp_path).images) == 21  # edgeops' own rules accept all of it
    assert problem_lines(scan_with_rules(spec, tmp_path)) == [
        "data/cat/x.webp: WEBP is refused",
        "data/1st/: label '1st' starts with a digit",
    ]


def test_csv_labels_name_their_first_line(tmp_path: Path, seeds: Seeds) -> None:
    files = make_label_tree(tmp_path / "img", {"cat": 10, "2nd": 10}, seeds)
    rows = [f"img/{label}/{p.name},{label}" for label, ps in files.items() for p in ps]
    (tmp_path / "index.csv").write_text("\n".join(rows) + "\n")
    lines = problem_lines(scan_with_rules(spec_for("csv", tmp_path / "index.csv"), tmp_path))
    assert lines == ["index.csv:11: label '2nd' starts with a digit"]
