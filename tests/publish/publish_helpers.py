"""Helpers for the publish cycle tests: edit the config, run plan/apply/models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trained_example import edgeops, ok

SEED_1 = "    training:\n      seed: 1\n"
GATE_END = "      min_au_prc: 0.6\n"


def edit(root: Path, old: str, new: str) -> None:
    config = root / "edgeops.yaml"
    text = config.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {config}"
    config.write_text(text.replace(old, new))


def plan(root: Path, *args: str) -> str:
    return ok(edgeops(root, "plan", *args))


def apply(root: Path, *args: str) -> str:
    return ok(edgeops(root, "apply", "--auto-approve", *args))


def models(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(edgeops(root, "models", "--json")))
    return data


def bundle_card(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "app/src/main/assets/objects.json").read_text())
    return data


def saved(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / name).read_text())
    return data


def assert_adopted(root: Path, sha256: str, version: int = 2) -> None:
    """``version`` of model.objects is the candidate with int8 ``sha256``, adopted by the apply
    that just ran: no training ran, what was reviewed is what ships, and the candidate is gone."""
    live = json.loads(ok(edgeops(root, "show", "--json")))
    (v,) = [v for v in live["models"]["model.objects"]["versions"] if v["version"] == version]
    assert v["metrics"]["adopted"]["sha256"] == sha256  # no training ran
    (listed,) = [v for v in models(root)["models"]["model.objects"] if v["version"] == version]
    assert listed["sha256"] == sha256  # what was reviewed is what ships
    assert ok(edgeops(root, "plan")).rstrip().splitlines()[-1] == "No changes."
    assert "model.objects" not in models(root).get("candidates", {})  # adopted: a version now
