"""`edgeops drift` and the plan's Drift section on the real local backend: changes made outside
edgeops (a bundle file edited or deleted, registry rows edited with another SQLite tool)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edgeops import cli

from .test_apply_local import published  # noqa: F401 (the fixture)


def _drift(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["drift", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _sql(repo: Path, statement: str) -> None:
    """Edit the registry as a person with the sqlite3 shell would: no edgeops code involved."""
    db = sqlite3.connect(repo / ".edgeops" / "registry.sqlite")
    with db:
        assert db.execute(statement).rowcount == 1
    db.close()


def test_no_drift_exits_0(published: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    code, out, _ = _drift(capsys)
    assert (code, out) == (0, "No drift: everything edgeops published is as it left it.\n")
    code, out, _ = _drift(capsys, "--json")
    assert (code, json.loads(out)) == (0, {"drift": []})


@pytest.mark.parametrize(
    ("edit", "address", "what"),
    [
        (
            lambda repo: (repo / "app" / "pets.tflite").write_bytes(b"patched by hand"),
            "publish.pets.bundle",
            "app/pets.tflite was edited or replaced",
        ),
        (
            lambda repo: (repo / "app" / "pets.labels.txt").unlink(),
            "publish.pets.bundle",
            "app/pets.labels.txt was deleted",
        ),
        (
            lambda repo: _sql(repo, "UPDATE registry_entries SET tags = '[\"canary\"]'"),
            "publish.pets.registry",
            "registry tags changed to ['canary']",
        ),
        (
            lambda repo: _sql(repo, "DELETE FROM registry_entries WHERE display_name = 'pets'"),
            "publish.pets.registry",
            "registry entry 'pets' was removed",
        ),
    ],
    ids=["bundle-edited", "bundle-file-deleted", "registry-tags-changed", "entry-removed"],
)
def test_drift_exits_2_and_names_what_changed(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    edit,  # noqa: ANN001
    address: str,
    what: str,
) -> None:
    edit(published)
    code, out, _ = _drift(capsys)
    assert code == 2
    assert out.splitlines()[:2] == [
        "Drift (changed outside edgeops since the last apply):",
        f"  {address}: {what}",
    ]
    assert "`edgeops plan` shows how apply restores them." in out
    code, out, _ = _drift(capsys, "--json")
    assert (code, json.loads(out)) == (2, {"drift": [{"address": address, "what": what}]})

    # plan: the drift in its own section, once; the change restoring it says so briefly
    capsys.readouterr()
    assert cli.main(["plan", "--detailed-exitcode"]) == 2
    plan = capsys.readouterr().out
    assert plan.startswith(f"Drift (changed outside edgeops since the last apply):\n  {address}")
    assert plan.count(what) == 1
    block = plan[plan.index(f"~ {address} (update)") :].split("\n\n")[0].splitlines()
    assert block[1].strip() == "restore drift (see Drift)"

    assert cli.main(["apply", "--auto-approve"]) == 0
    assert _drift(capsys)[0] == 0


def test_drift_of_an_invalid_config_is_an_error(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (published / "edgeops.yaml").write_text("version: 7\n")
    code, out, err = _drift(capsys)
    assert code == 1 and out == "" and "edgeops.yaml:1" in err


def test_drift_with_no_backend_state_yet_is_none(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    assert _drift(capsys, "-f", str(repo / "edgeops.yaml"))[0] == 0
