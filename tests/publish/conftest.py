"""Publish, rollback and drift cycles through the real CLI on the trained objects example."""

from __future__ import annotations

from pathlib import Path

import pytest
from publish_helpers import GATE_END, SEED_1, edit
from trained_example import copy_example, edgeops, ok, trained_example


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.getbasetemp())


@pytest.fixture
def example(trained: Path, tmp_path: Path) -> Path:
    """A private copy: v1 trained and published to the registry and the bundle."""
    return copy_example(trained, tmp_path / "ex")


@pytest.fixture(scope="session")
def with_v2(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 and v2 (training.seed 1, the config as it stands here), both targets at v2."""
    root = copy_example(trained, tmp_path_factory.mktemp("v2") / "ex")
    edit(root, GATE_END, GATE_END + SEED_1)
    out = ok(edgeops(root, "apply", "--auto-approve"))
    assert "1 to train" in out, out
    return root


@pytest.fixture
def example_v2(with_v2: Path, tmp_path: Path) -> Path:
    return copy_example(with_v2, tmp_path / "ex")
