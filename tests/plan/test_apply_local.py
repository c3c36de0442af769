"""Publish, drift and unpublish on the real local backend, end to end through the CLI.

Training is the ML engineer's (slow) territory: here a model version is recorded in the registry
by hand, with placeholder files, exactly as the trainer would leave it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from edgeops import cli
from edgeops.backends.local.registry import Registry
from edgeops.progress import NullReporter
from edgeops.workflow import open_session

CONFIG = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
    models:
      pets:
        dataset: pets
        budget: {node_hours: 0.05}
    publish:
      pets:
        registry:
          display_name: pets
          tags: [{tags}]
        bundle:
          path: app/pets.tflite
"""


def _config(repo: Path, tags: str = "prod") -> None:
    (repo / "edgeops.yaml").write_text(textwrap.dedent(CONFIG.replace("{tags}", tags)).lstrip())


def _record_trained_version(repo: Path) -> None:
    """Record v1 of model.pets as the trainer would after a successful, blessed run."""
    session = open_session(repo / "edgeops.yaml", NullReporter())
    (m,) = session.desired.models  # type: ignore[union-attr]
    vdir = repo / ".edgeops" / "models" / "pets" / "v1"
    vdir.mkdir(parents=True)
    (vdir / "model_int8.tflite").write_bytes(b"TFL3 int8 placeholder")
    (vdir / "model_float32.tflite").write_bytes(b"TFL3 float32 placeholder")
    (vdir / "labels.txt").write_text("cat\ndog\n")
    reg = Registry(repo / ".edgeops" / "registry.sqlite")
    assert reg.begin_version(m.address, m.fingerprint, m.eval_fingerprint) == 1
    reg.finish_version(
        m.address,
        1,
        status="ready",
        eval_fingerprint=m.eval_fingerprint,
        blessed=True,
        threshold=0.5,
        metrics={
            "inputs": m.inputs,
            "threshold_rule": m.spec.threshold.describe(),
            "gate_spec": {"min_precision": None, "min_recall": None, "min_au_prc": None},
        },
        stop_reason="early stopping",
        cost_node_hours=0.01,
        files={},
    )
    reg.close()


@pytest.fixture
def published(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    monkeypatch.chdir(repo)
    assert cli.main(["apply", "--auto-approve"]) == 0  # the dataset
    _config(repo)
    _record_trained_version(repo)
    capsys.readouterr()
    assert cli.main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "+ publish.pets.registry (create)" in out and "+ publish.pets.bundle (create)" in out
    assert "model.pets (train)" not in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    assert "Apply complete: 2 change(s) made." in capsys.readouterr().out
    return repo


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["plan", "--detailed-exitcode", *args])
    return code, capsys.readouterr().out


def test_publish_then_no_changes(published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (published / "app" / "pets.tflite").read_bytes() == b"TFL3 int8 placeholder"
    assert (published / "app" / "pets.labels.txt").read_text() == "cat\ndog\n"
    assert (published / "app" / "pets.json").exists()
    code, out = _plan(capsys)
    assert (code, out.rstrip().splitlines()[-1]) == (0, "No changes.")


def test_an_edited_bundle_is_drift_and_apply_restores_it(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (published / "app" / "pets.tflite").write_bytes(b"someone else's model")
    code, out = _plan(capsys)
    assert code == 2
    assert "Drift" in out and "app/pets.tflite was edited or replaced" in out
    assert "~ publish.pets.bundle (update)" in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    assert (published / "app" / "pets.tflite").read_bytes() == b"TFL3 int8 placeholder"
    assert _plan(capsys)[0] == 0


def test_a_tag_change_updates_the_registry_entry(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(published, tags="prod, beta")
    code, out = _plan(capsys)
    assert code == 2 and "tags[1] added beta" in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    reg = Registry(published / ".edgeops" / "registry.sqlite")
    assert reg.registry_entries()["pets"]["tags"] == ["prod", "beta"]
    reg.close()
    assert _plan(capsys)[0] == 0


def test_removing_publish_unpublishes_and_removes_the_bundle_files(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (published / "edgeops.yaml").read_text()
    (published / "edgeops.yaml").write_text(text[: text.index("publish:")])
    code, out = _plan(capsys, "--allow-destroy")
    assert code == 2
    assert "- publish.pets.registry (unpublish; protected, allowed by --allow-destroy)" in out
    assert "- publish.pets.bundle (unpublish; protected, allowed by --allow-destroy)" in out
    assert cli.main(["apply", "--auto-approve", "--allow-destroy"]) == 0
    assert not list((published / "app").iterdir())
    reg = Registry(published / ".edgeops" / "registry.sqlite")
    assert reg.registry_entries() == {} and reg.publish_rows() == {}
    reg.close()
    assert _plan(capsys)[0] == 0


def test_a_registry_entry_edited_outside_edgeops_is_restored(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = Registry(published / ".edgeops" / "registry.sqlite")
    with reg.transaction() as db:
        db.execute("UPDATE registry_entries SET tags = '[\"hacked\"]', published = 0")
    code, out = _plan(capsys)
    assert code == 2
    assert "registry tags changed to ['hacked']" in out
    assert "registry published flag changed to false" in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    entry = reg.registry_entries()["pets"]
    assert (entry["tags"], entry["published"]) == (["prod"], True)
    reg.close()
    assert _plan(capsys)[0] == 0


def test_a_moved_bundle_removes_the_old_files(
    published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (published / "edgeops.yaml").read_text()
    (published / "edgeops.yaml").write_text(text.replace("app/pets.tflite", "app/m/pets.tflite"))
    code, out = _plan(capsys)
    assert code == 2 and "path app/pets.tflite -> app/m/pets.tflite" in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    assert sorted(p.name for p in (published / "app").rglob("*") if p.is_file()) == [
        "pets.json",
        "pets.labels.txt",
        "pets.tflite",
    ]
    assert (published / "app" / "m" / "pets.tflite").exists()
    assert _plan(capsys)[0] == 0
