from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops.config.loader import load_config
from edgeops.errors import ConfigError

Write = Callable[[str], Path]

MINIMAL = """
version: 1
datasets:
  flowers:
    source: {zip: data/flowers.zip}
models:
  flowers:
    dataset: flowers
publish:
  flowers:
    registry: {display_name: flowers}
    bundle: {path: app/flowers.tflite}
"""


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Write:
    """Write dedented YAML to ./edgeops.yaml in a temporary folder (the working directory)."""
    monkeypatch.chdir(tmp_path)

    def _write(text: str) -> Path:
        path = tmp_path / "edgeops.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    """The lines of the ConfigError raised for ``path`` (fails when it loads)."""
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert "Traceback" not in message and "$schema" not in message
    return message.splitlines()
