"""The `edgeops-validate` pre-commit hook, run the way a user repository runs it:
`pre-commit try-repo <a clone of this repository at HEAD> edgeops-validate --all-files`.

Marked slow: try-repo uses a throwaway pre-commit store, so every run builds a virtualenv and
pip-installs edgeops from the clone with its base dependencies from PyPI (no torch): 23-30 s per
run measured on this 2-core machine, about 50-60 s for the two tests, and it needs PyPI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

VALID = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
"""
INVALID = """
    version: 1
    backend:
      local:
        path: .edgeops
    models:
      pets:
        dataset: nope
"""


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("pre-commit")
    clone = root / "edgeops"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(root / "cache"), "PRE_COMMIT_COLOR": "never"}
    return clone, env


def _sample(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(textwrap.dedent(text).lstrip())
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    return path


def _try_repo(sample: Path, hook_env: tuple[Path, dict[str, str]]) -> tuple[int, str]:
    clone, env = hook_env
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(clone), "edgeops-validate"]
        + ["--all-files"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_hook_passes_a_valid_config(
    tmp_path: Path, hook_env: tuple[Path, dict[str, str]]
) -> None:
    sample = _sample(tmp_path / "app", {"edgeops.yaml": VALID, "README.md": "an app\n"})
    code, out = _try_repo(sample, hook_env)
    assert code == 0, out
    assert "edgeops validate" in out and "Passed" in out


def test_the_hook_fails_an_invalid_config_naming_file_and_line(
    tmp_path: Path, hook_env: tuple[Path, dict[str, str]]
) -> None:
    sample = _sample(
        tmp_path / "app",
        {"edgeops.yaml": VALID, "ml/edgeops.yml": INVALID, "ml/edgeops.yaml.bak": INVALID},
    )
    code, out = _try_repo(sample, hook_env)
    assert code == 1, out
    assert "Failed" in out
    assert "ml/edgeops.yml:7: models.pets.dataset: unknown dataset 'nope'" in out
    assert "edgeops.yaml: valid" in out  # every file is checked, not only up to the first error
    assert ".bak" not in out  # `files:` matches edgeops.yaml / edgeops.yml only
