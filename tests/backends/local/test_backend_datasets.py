"""The local backend's dataset operations, driven through a real config and the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops.errors import DatasetError
from edgeops.plan.definition import Action
from edgeops.progress import NullReporter
from edgeops.workflow import Session, open_session

MakeImages = Callable[[Path, dict[str, int]], list[Path]]


def _session(repo: Path) -> Session:
    return open_session(repo / "edgeops.yaml", NullReporter())


def _apply(repo: Path) -> Session:
    session = _session(repo)
    with session.backend.lock("apply"):
        session.apply(session.plan())
    return session


def test_read_of_a_new_backend_writes_no_registry(repo: Path) -> None:
    live = _session(repo).backend.read()
    assert live.datasets == {} and live.models == {} and live.publish == {}
    assert not (repo / ".edgeops" / "registry.sqlite").exists()


def test_import_stores_every_image_and_records_the_dataset(repo: Path) -> None:
    session = _apply(repo)
    (desired,) = session.desired.datasets  # type: ignore[union-attr]
    live = session.backend.read().datasets["dataset.pets"]
    assert live.fingerprint == desired.fingerprint
    assert live.images == desired.images
    assert {label for r in live.images for label in r.labels} == {"cat", "dog"}
    store = repo / ".edgeops" / "store"
    blobs = sorted(p.name for p in store.glob("*/*"))
    assert blobs == sorted(r.sha256 for r in desired.images)
    assert not list(store.rglob("*.tmp"))
    assert _session(repo).plan().empty


def test_reimport_adds_only_new_images(repo: Path, make_images: MakeImages) -> None:
    _apply(repo)
    make_images(repo / "data", {"cat": 2, "bird": 10})
    session = _session(repo)
    plan = session.plan()
    (change,) = plan.changes
    assert change.action == Action.UPDATE
    assert change.details["per_label"] == {"bird": {"added": 10}, "cat": {"added": 2}}
    reporter = NullReporter()
    session.reporter = reporter
    session.apply(plan)
    assert "dataset.pets: 36 images (12 new in the store)" in reporter.infos
    assert len(list((repo / ".edgeops" / "store").glob("*/*"))) == 36
    assert _session(repo).plan().empty


def test_an_image_changed_after_planning_imports_nothing(
    repo: Path, make_images: MakeImages
) -> None:
    _apply(repo)
    before = _session(repo).backend.read().datasets["dataset.pets"]
    new = make_images(repo / "data", {"cat": 3})
    session = _session(repo)
    plan = session.plan()
    new[-1].write_bytes(new[0].read_bytes() + b"garbage")  # edited between plan and apply
    with pytest.raises(DatasetError, match="changed since it was scanned"):
        session.apply(plan)
    after = _session(repo).backend.read().datasets["dataset.pets"]
    assert after == before


def test_forget_keeps_the_stored_images(repo: Path) -> None:
    _apply(repo)
    (repo / "edgeops.yaml").write_text("version: 1\nbackend:\n  local:\n    path: .edgeops\n")
    session = _session(repo)
    plan = session.plan()
    assert [(c.address, c.action) for c in plan.changes] == [("dataset.pets", Action.FORGET)]
    session.apply(plan)
    assert session.backend.read().datasets == {}
    assert len(list((repo / ".edgeops" / "store").glob("*/*"))) == 24
    assert _session(repo).plan().empty
