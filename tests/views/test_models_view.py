"""`edgeops models`: the listing asks the backend for its registry and version files (the
ModelRegistry capability), and a backend without one is refused with a clear message."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from edgeops.backends import get_backend
from edgeops.backends.local.registry import Registry
from edgeops.config.loader import load_config
from edgeops.errors import EdgeopsError
from edgeops.views.models import collect, render_models


def _config(tmp_path: Path, backend: str) -> Path:
    path = tmp_path / "edgeops.yaml"
    path.write_text(f"version: 1\nbackend:\n  {backend}\n")
    return path


def test_the_local_backend_lists_entries_versions_and_files(tmp_path: Path) -> None:
    backend = get_backend(load_config(_config(tmp_path, "local: {path: .edgeops}"), env={}))
    assert collect(backend)["models"] == {}  # nothing applied yet: no registry database
    vdir = tmp_path / ".edgeops" / "models" / "pets" / "v1"
    vdir.mkdir(parents=True)
    data = b"TFL3 int8 placeholder"
    (vdir / "model_int8.tflite").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    reg = Registry(tmp_path / ".edgeops" / "registry.sqlite")
    reg.begin_version("model.pets", "t1", "e1")
    reg.finish_version(
        "model.pets",
        1,
        status="ready",
        eval_fingerprint="e1",
        blessed=True,
        threshold=0.5,
        metrics={"summary": {"precision": 0.9, "recall": 0.8, "au_prc": 0.95}},
        stop_reason="",
        cost_node_hours=0.0,
        files={"model_int8.tflite": sha},
    )
    entry = {
        "display_name": "pets",
        "model": "pets",
        "version": 1,
        "tags": ["prod"],
        "published": True,
        "file": str(vdir / "model_int8.tflite"),
        "sha256": sha,
        "size": len(data),
        "threshold": 0.5,
    }
    reg.set_publish(
        "publish.pets.registry", "pets", "registry", 1, {"display_name": "pets"}, {}, entry
    )
    reg.close()
    data_out = collect(get_backend(load_config(tmp_path / "edgeops.yaml", env={})))
    (v1,) = data_out["models"]["model.pets"]
    assert v1["published"] == ["registry:pets"]
    assert (v1["file"], v1["sha256"], v1["size"]) == (str(vdir / "model_int8.tflite"), sha, 21)
    assert [e["display_name"] for e in data_out["registry"]] == ["pets"]
    text = render_models(data_out)
    assert "model.pets" in text and "registry:pets" in text and sha[:12] in text


def test_a_backend_without_a_local_registry_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, "google: {project: my-project, bucket: my-bucket}")
    backend = get_backend(load_config(config, env={}))
    with pytest.raises(EdgeopsError, match="edgeops models lists the local backend, not google"):
        collect(backend)
