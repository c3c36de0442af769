"""Converted backbones live in the machine cache, once per machine, under a content key."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest


def test_the_key_names_what_determines_the_bytes(machine_cache: Path) -> None:
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import backbone_key, backbone_path

    lite0, lite2 = backbone_for("latency"), backbone_for("accuracy")
    assert backbone_key(lite0, "features") == backbone_key(lite0, "features")
    keys = {
        backbone_key(lite0, "features"),
        backbone_key(lite0, "lower2"),
        backbone_key(lite2, "features"),
    }
    assert len(keys) == 3
    path = backbone_path(lite0, "features")
    assert path.parent == machine_cache / "backbones"
    assert path.name.startswith("efficientnet-lite0-features-") and path.suffix == ".tflite"
    assert backbone_key(lite0, "features") in path.name


def test_racing_builders_leave_one_whole_file(
    machine_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import converted_backbone

    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path))  # an empty machine cache
    bb = backbone_for("latency")
    payload = bytes(range(256)) * 4096
    calls: list[int] = []

    def build() -> bytes:
        calls.append(1)
        time.sleep(0.2)  # both threads are inside build before either renames
        return payload

    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(converted_backbone(bb, "features", build)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 2 and len(set(results)) == 1
    assert results[0].read_bytes() == payload
    assert [p.name for p in (tmp_path / "backbones").iterdir()] == [results[0].name]
    # a later call reads the cache and does not build
    assert converted_backbone(bb, "features", build) == results[0] and len(calls) == 2
