"""Every example under examples/ loads, validates and plans (in a copy, so the repository never
gets an `.edgeops/` folder)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from edgeops import cli
from edgeops.config.loader import load_config
from edgeops.datasets import scan_dataset
from edgeops.plan.definition import Action
from edgeops.progress import NullReporter
from edgeops.workflow import open_session

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIGS = sorted(EXAMPLES.glob("*/edgeops.yaml"))
HAVE_ML = importlib.util.find_spec("edgeops.backends.local.ml") is not None


@pytest.fixture(params=CONFIGS, ids=[p.parent.name for p in CONFIGS])
def example(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A copy of the whole examples/ tree (examples may share data: google reuses objects')."""
    src: Path = request.param.parent
    shutil.copytree(
        EXAMPLES,
        tmp_path / "examples",
        ignore=shutil.ignore_patterns(".edgeops", "__pycache__", "app"),
    )
    return tmp_path / "examples" / src.name / "edgeops.yaml"


def skip_unless_local(example: Path) -> None:
    if load_config(example).backend.kind != "local":
        pytest.skip("planned end to end against fakes of the Google APIs in tests/google")


def test_there_are_examples() -> None:
    assert CONFIGS, f"no examples/*/edgeops.yaml under {EXAMPLES}"


def test_example_validates(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(example.parent)
    assert cli.main(["validate"]) == 0, capsys.readouterr().err
    assert "valid" in capsys.readouterr().out


def test_example_datasets_scan(example: Path) -> None:
    config = load_config(example)
    for spec in config.datasets:
        manifest = scan_dataset(
            spec,
            root=config.root,
            cache_path=example.parent / ".edgeops" / "cache" / "hashes.sqlite",
            reporter=NullReporter(),
        )
        assert manifest.images, f"datasets.{spec.name} has no labelled images"


@pytest.mark.skipif(
    not HAVE_ML,
    reason="edgeops.backends.local.ml (training estimates and trainer version) is not there yet; "
    "models cannot be planned",
)
def test_example_plans_from_scratch(example: Path) -> None:
    skip_unless_local(example)
    session = open_session(example, NullReporter())
    plan = session.plan()
    config = session.config
    want = (
        [(f"dataset.{d.name}", Action.CREATE) for d in config.datasets]
        + [(f"model.{m.name}", Action.TRAIN) for m in config.models]
        + [
            (f"publish.{p.model}.{kind}", Action.CREATE)
            for p in config.publish
            for kind, _ in p.targets
        ]
    )
    assert sorted((c.address, c.action) for c in plan.changes) == sorted(want)
    assert not (example.parent / ".edgeops" / "registry.sqlite").exists()  # plan writes no state


def test_example_plans_on_the_command_line(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not HAVE_ML and load_config(example).models:
        pytest.skip("edgeops.backends.local.ml is not there yet; models cannot be planned")
    skip_unless_local(example)
    monkeypatch.chdir(example.parent)
    assert cli.main(["plan", "--detailed-exitcode"]) == 2
    out, err = capsys.readouterr()
    assert out.rstrip("\n").splitlines()[-1].startswith("Plan: ")
    assert "Traceback" not in out + err
