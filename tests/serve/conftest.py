"""Fixtures: the trained objects example with an online target, and a server over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_helpers import Server, add_online_target, start_server, stop_server
from trained_example import copy_example, edgeops, ok, trained_example


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def served_example(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained example plus an `online:` target, applied (a publish, no training)."""
    root = copy_example(trained, tmp_path_factory.mktemp("served") / "ex")
    add_online_target(root)
    out = ok(edgeops(root, "apply", "--auto-approve"))
    assert "0 to train" in out, out
    return root


@pytest.fixture(scope="module")
def server(served_example: Path) -> Iterator[Server]:
    s = start_server(served_example, "--max-body-mb", "2")
    yield s
    assert stop_server(s), s.log.read_text()


@pytest.fixture
def fresh_example(trained: Path, tmp_path: Path) -> Path:
    """A private copy (for tests that publish while the server runs)."""
    root = copy_example(trained, tmp_path / "ex")
    add_online_target(root)
    ok(edgeops(root, "apply", "--auto-approve"))
    return root
