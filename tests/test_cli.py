"""The command line end to end: exit codes, outputs, saved plans, errors that never show a
traceback. Commands run in-process (``edgeops.cli.main``) with ``-C repo``; one test runs the
installed ``edgeops`` console script and one checks that ``--help`` imports nothing heavy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops import cli, workflow

MakeImages = Callable[[Path, dict[str, int]], list[Path]]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("plan", "--out", "p.json")`` -> (exit code, stdout, stderr), in ``repo``."""
    monkeypatch.chdir(repo.parent)  # -C changes the working directory; monkeypatch restores it
    monkeypatch.setattr(tempfile, "tempdir", str(repo.parent))  # crash logs stay in tmp_path

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["-C", str(repo), *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return _run


def test_plan_apply_plan(run: Run) -> None:
    code, out, _ = run("plan")
    assert code == 0
    assert "+ dataset.pets (create)" in out
    assert "new dataset (24 images, 2 labels)" in out
    assert out.rstrip("\n").splitlines()[-1] == (
        "Plan: 1 to create, 0 to update, 0 to train, 0 to remove."
    )
    assert run("plan", "--detailed-exitcode")[0] == 2

    code, out, _ = run("apply", "--auto-approve")
    assert code == 0
    assert "Apply complete: 1 change(s) made." in out

    code, out, _ = run("plan")
    assert code == 0
    assert out.rstrip("\n").splitlines()[-1] == "No changes."
    assert run("plan", "--detailed-exitcode")[0] == 0

    code, out, _ = run("apply", "--auto-approve")
    assert code == 0 and out.rstrip("\n").splitlines()[-1] == "No changes."


def test_saved_plan_is_applied(run: Run, repo: Path) -> None:
    code, out, err = run("plan", "--out", "p.json")
    assert code == 0 and "Saved the plan to p.json" in err
    saved = json.loads((repo / "p.json").read_text())
    assert saved["format_version"] == 1
    assert [c["address"] for c in saved["changes"]] == ["dataset.pets"]
    code, out, _ = run("apply", "p.json")
    assert code == 0 and "Apply complete: 1 change(s) made." in out
    assert run("plan", "--detailed-exitcode")[0] == 0


def test_saved_plan_works_from_another_directory(
    run: Run, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("plan", "--out", str(tmp_path / "p.json"))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cli.main(["apply", str(tmp_path / "p.json")]) == 0
    assert (repo / ".edgeops" / "registry.sqlite").exists()


def test_stale_saved_plan_is_refused(run: Run, repo: Path, make_images: MakeImages) -> None:
    assert run("plan", "--out", "p.json")[0] == 0
    make_images(repo / "data", {"dog": 1})
    code, out, err = run("apply", "p.json")
    assert code == 1
    assert "the saved plan is stale" in err and "dataset.pets" in err
    assert "edgeops plan --out" in err
    assert not (repo / ".edgeops" / "registry.sqlite").exists()


def test_saved_plan_is_refused_when_live_state_moved(run: Run, repo: Path) -> None:
    assert run("plan", "--out", "p.json")[0] == 0
    assert run("apply", "--auto-approve")[0] == 0  # someone applied meanwhile
    code, _, err = run("apply", "p.json")
    assert code == 1
    assert "dataset.pets: live state changed since the plan was made" in err


def test_apply_without_a_terminal_needs_auto_approve(run: Run, repo: Path) -> None:
    code, _, err = run("apply")
    assert code == 1
    assert "--auto-approve" in err and "not a terminal" in err
    assert not (repo / ".edgeops" / "lock.json").exists()
    assert run("plan", "--detailed-exitcode")[0] == 2  # nothing was applied


def test_apply_of_a_missing_plan_file(run: Run) -> None:
    code, _, err = run("apply", "nope.json")
    assert code == 1 and "nope.json: no such plan file" in err


def test_plan_formats(run: Run) -> None:
    code, out, _ = run("plan", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["format_version"] == 1 and data["summary"]["create"] == 1
    code, out, _ = run("plan", "--format", "markdown")
    assert code == 0
    assert out.startswith("<!-- edgeops-plan -->") and "| `+` create | 1 |" in out


def test_show(run: Run) -> None:
    code, out, _ = run("show")
    assert code == 0 and "Nothing managed yet on the local backend" in out
    assert run("apply", "--auto-approve")[0] == 0
    code, out, _ = run("show")
    assert code == 0
    assert "dataset.pets" in out and "cat" in out and "dog" in out
    code, out, _ = run("show", "--json")
    data = json.loads(out)
    assert data["datasets"]["dataset.pets"]["images"] == 24
    assert set(data["datasets"]["dataset.pets"]["labels"]) == {"cat", "dog"}
    assert sum(data["datasets"]["dataset.pets"]["labels"]["cat"].values()) == 12


def test_validate(run: Run, repo: Path) -> None:
    code, out, _ = run("validate")
    assert code == 0 and "valid (1 datasets, 0 models, 0 publish targets)" in out
    (repo / "edgeops.yaml").write_text(
        "version: 1\nbackend:\n  local:\n    path: .edgeops\ndatasets:\n  pets:\n"
        "    source:\n      folder: data\n    split: {train: 80, validation: 10, test: 5}\n"
    )
    code, out, err = run("validate")
    assert code == 1
    assert "edgeops.yaml:9:" in err and "datasets.pets.split" in err
    # plan refuses the same file the same way
    code, _, err = run("plan")
    assert code == 1 and "edgeops.yaml:9:" in err


def test_validate_several_files_reports_each(run: Run, repo: Path) -> None:
    (repo / "ml").mkdir()
    (repo / "ml" / "edgeops.yml").write_text(
        "version: 1\nbackend:\n  local:\n    path: .edgeops\nmodels:\n  m:\n    dataset: x\n"
    )
    code, out, err = run("validate", "ml/edgeops.yml", "edgeops.yaml", "missing.yaml")
    assert code == 1
    assert "edgeops.yaml: valid (1 datasets" in out  # checked after the invalid one
    assert "ml/edgeops.yml:7: models.m.dataset" in err and "missing.yaml" in err
    assert run("validate", "edgeops.yaml")[0] == 0


def test_help_lists_the_review_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "drift" in out and "ci" in out
    with pytest.raises(SystemExit):
        cli.main(["plan", "--help"])
    assert "--allow-destroy" in capsys.readouterr().out


def test_validate_of_a_missing_file(run: Run) -> None:
    code, _, err = run("validate", "-f", "missing.yaml")
    assert code == 1 and "missing.yaml" in err


def test_an_internal_bug_exits_3_with_a_crash_log(
    run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planner exploded")

    monkeypatch.setattr(workflow, "build_plan", broken)
    code, out, err = run("plan")
    assert code == 3
    assert "internal error" in err
    (log,) = repo.parent.glob("edgeops-crash-*.log")
    assert str(log) in err.replace("\n", "")
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: planner exploded" in text


def test_keyboard_interrupt_exits_130(
    run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(workflow, "build_plan", interrupted)
    code, _, err = run("apply", "--auto-approve")
    assert code == 130 and "interrupted" in err
    assert not (repo / ".edgeops" / "lock.json").exists()  # released on the way out


def test_unlock(run: Run, repo: Path) -> None:
    code, out, _ = run("unlock")
    assert code == 0 and out == "Not locked.\n"
    lock = repo / ".edgeops" / "lock.json"
    lock.parent.mkdir()
    holder = {"host": "ci-7", "pid": 4242, "started": "2026-01-01T00:00:00+00:00"}
    lock.write_text(json.dumps({**holder, "command": "apply"}))
    assert run("apply", "--auto-approve")[0] == 1  # held by a host we cannot check
    code, out, _ = run("unlock")
    assert code == 0
    assert "Removed the lock held by host ci-7, pid 4242" in out
    assert not lock.exists()
    assert run("apply", "--auto-approve")[0] == 0


def test_schema_prints_json(run: Run) -> None:
    code, out, _ = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert {"version", "backend", "datasets", "models", "publish"} <= set(schema["properties"])


def test_missing_directory(run: Run, tmp_path: Path) -> None:
    code = cli.main(["-C", str(tmp_path / "nope"), "plan"])
    assert code == 1


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    assert "usage: edgeops" in capsys.readouterr().out


HELP_IMPORTS = """
import sys
import edgeops.cli
try:
    edgeops.cli.main(["--help"])
except SystemExit as e:
    assert e.code == 0, e.code
heavy = {"torch", "ai_edge_litert", "PIL", "numpy", "deepdiff", "jsonschema", "yaml", "rich"}
print(sorted(heavy & set(sys.modules)))
"""


def test_help_imports_nothing_heavy() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", HELP_IMPORTS], capture_output=True, text=True, check=True
    )
    assert "usage: edgeops" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "[]"


def test_plan_does_not_import_the_ml_stack(repo: Path) -> None:
    code = (
        "import sys, edgeops.cli\n"
        "rc = edgeops.cli.main(['plan'])\n"
        "print(rc, sorted({'torch', 'ai_edge_litert'} & set(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert proc.stdout.rstrip().splitlines()[-1] == "0 []"


@pytest.mark.skipif(shutil.which("edgeops") is None, reason="edgeops is not installed on PATH")
def test_console_script(repo: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    first = subprocess.run(
        ["edgeops", "-C", str(repo), "apply", "--auto-approve"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    assert "Apply complete: 1 change(s) made." in first.stdout
    again = subprocess.run(
        ["edgeops", "-C", str(repo), "plan", "--detailed-exitcode"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.rstrip("\n").splitlines()[-1] == "No changes."


def _commands() -> list[str]:
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--detailed-exitcode", "--bogus"],
        ["bogus"],
        ["ci"],
        ["ci", "comment", "--pr", "x"],
        ["plan", "--format", "xml"],
        ["eval"],
        *([command, "--bogus"] for command in _commands()),
    ],
    ids=lambda argv: " ".join(argv),
)
def test_a_usage_error_exits_1_with_the_usage_line_never_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # 2 means "changes present" (plan --detailed-exitcode, drift): a mistyped flag must not
    # read as success in a CI job that accepts 2
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("usage: edgeops") and "error:" in err and "Traceback" not in err
