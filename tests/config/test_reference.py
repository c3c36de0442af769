from __future__ import annotations

import subprocess
import sys

from edgeops.config.reference import render_reference

from .schema_walk import properties


def test_reference_covers_every_property() -> None:
    text = render_reference()
    missing = [path for path, _ in properties() if f"### `{path}`\n" not in text]
    assert not missing


def test_reference_shows_defaults_rules_and_required() -> None:
    text = render_reference()
    node_hours = text.split("### `models.<name>.budget.node_hours`\n", 1)[1].split("###", 1)[0]
    assert "one hour of wall time on this machine" in node_hours
    assert "**Rules:** > 0; ≤ 100" in node_hours
    assert "**Default:** `0.1`" in node_hours
    dataset = text.split("### `models.<name>.dataset`\n", 1)[1].split("###", 1)[0]
    assert "**Required**" in dataset
    assert "**Type:** one of `latency`, `balanced`, `accuracy`" in text


def test_module_prints_the_reference() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edgeops.config.reference"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == render_reference()
