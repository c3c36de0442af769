"""The bundle target's files, shared by both backends (and its names by the gcs target)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeops.backends import bundle
from edgeops.files import sha256_bytes
from edgeops.state import LiveVersion

V3 = LiveVersion(model="pets", version=3, fingerprint="f", eval_fingerprint="e", status="ready",
                 blessed=True, threshold=0.4)  # fmt: skip


def test_companions_of_a_path_and_of_a_gs_uri() -> None:
    assert bundle.companions("app/pets.tflite") == (
        "app/pets.tflite",
        "app/pets.labels.txt",
        "app/pets.json",
    )
    assert bundle.companions("gs://b/r/pets.tflite")[1:] == ("gs://b/r/pets.labels.txt",
                                                              "gs://b/r/pets.json")  # fmt: skip


def test_publish_moves_drifts_and_unpublishes_only_its_own_files(tmp_path: Path) -> None:
    data = b"TFL3 model"
    card = bundle.card("pets", V3, "int8", ["cat", "dog"], data, trainer="x")
    assert json.loads(card) == {
        "model": "pets",
        "version": 3,
        "format": "int8",
        "labels": ["cat", "dog"],
        "threshold": 0.4,
        "sha256": sha256_bytes(data),
        "size": len(data),
        "trainer": "x",
    }
    old = bundle.publish(tmp_path, tmp_path / "a" / "pets.tflite", data, ["cat"], card, {})
    assert sorted(old["files"]) == ["a/pets.json", "a/pets.labels.txt", "a/pets.tflite"]
    assert (tmp_path / "a" / "pets.labels.txt").read_text() == "cat\n"
    # a renamed path: the files written before go
    state = bundle.publish(tmp_path, tmp_path / "b" / "pets.tflite", data, ["cat"], card, old)
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    assert list(bundle.drift(tmp_path, state)) == []
    (tmp_path / "b" / "pets.labels.txt").write_text("edited\n")
    (tmp_path / "b" / "pets.json").unlink()
    assert list(bundle.drift(tmp_path, state)) == [
        "b/pets.json was deleted",
        "b/pets.labels.txt was edited or replaced",
    ]
    bundle.unpublish(tmp_path, state)
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["pets.labels.txt"]  # not ours now
