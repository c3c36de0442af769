"""The bundle target, the same on every backend: the model file, its labels and a JSON card
written into the app's source tree (``x.tflite``, ``x.labels.txt``, ``x.json``).

What it records is the sha256 of each file by its path relative to the config folder; a file
deleted or changed since is drift, and unpublishing removes only files still as edgeops wrote
them. The file names (``companions``) and the card are shared with the google ``gcs`` target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeops.backends.layout import labels_text
from edgeops.files import atomic_write, sha256_bytes, sha256_file
from edgeops.state import LiveVersion


def companions(model_path: str) -> tuple[str, str, str]:
    """The model file and the two written beside it: ``a/x.tflite`` -> (``a/x.tflite``,
    ``a/x.labels.txt``, ``a/x.json``). Works on paths and on gs:// URIs alike."""
    stem = model_path.removesuffix(".tflite")
    return model_path, f"{stem}.labels.txt", f"{stem}.json"


def card(
    model: str, version: LiveVersion, fmt: str, labels: list[str], data: bytes, **extra: Any
) -> bytes:
    """The JSON card of a published model file (``extra``: what one backend adds)."""
    fields = {
        "model": model,
        "version": version.version,
        "format": fmt,
        "labels": labels,
        "threshold": version.threshold,
        "sha256": sha256_bytes(data),
        "size": len(data),
        **extra,
    }
    return (json.dumps(fields, indent=2, sort_keys=True) + "\n").encode()


def publish(
    root: Path,
    model_path: Path,
    data: bytes,
    labels: list[str],
    card_blob: bytes,
    recorded: dict[str, Any],
) -> dict[str, Any]:
    """Write the three files and remove those an earlier path (``recorded``: the target's state
    before) left behind; returns what the target records about them."""
    paths = [Path(p) for p in companions(str(model_path))]
    blobs = [data, labels_text(labels), card_blob]
    for rel in recorded.get("files", {}):  # a renamed bundle path: remove what edgeops wrote
        p = root / rel
        if p not in paths:
            p.unlink(missing_ok=True)
    for p, blob in zip(paths, blobs, strict=True):
        atomic_write(p, blob)  # the card last: it names the model's hash
    return {
        "files": {
            str(p.relative_to(root)): sha256_bytes(b) for p, b in zip(paths, blobs, strict=True)
        }
    }


def drift(root: Path, state: dict[str, Any]) -> Iterator[str]:
    """What changed outside edgeops, one line per recorded file deleted or changed."""
    for rel, want in sorted(state.get("files", {}).items()):
        path = root / rel
        if not path.exists():
            yield f"{rel} was deleted"
        elif sha256_file(path) != want:
            yield f"{rel} was edited or replaced"


def unpublish(root: Path, state: dict[str, Any]) -> None:
    """Remove the recorded files, and never someone else's: a changed file stays."""
    for rel, sha in state.get("files", {}).items():
        p = root / rel
        if p.exists() and sha256_file(p) == sha:
            p.unlink()
