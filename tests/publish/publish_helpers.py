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
