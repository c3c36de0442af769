"""One real `edgeops apply` of examples/objects per test session, shared by tests/publish and
tests/serve (~1-2 minutes on 2 cores: import, backbone conversion, training, export, publish).

Tests never touch the trained copy itself: they copy it (`.edgeops` included, ~50 MB, a fraction
of a second), so every test starts from "v1 trained, registry and bundle published", and further
trainings reuse its cached backbone and features.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "objects"
BUNDLE = Path("app/src/main/assets/objects.tflite")  # the example's bundle target, relative
# A second model for rollouts: replaces the config's "publish:" line (trains in ~25 s).
CANDIDATE_MODEL = """  objects-candidate:
    dataset: objects
    budget:
      node_hours: 0.01
    training:
      seed: 7
      fine_tune: never

publish:"""

_lock = threading.Lock()
_trained: Path | None = None


def edgeops(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (its own working directory, no shared process state)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "edgeops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """stdout of a command that must succeed (its output is in the assertion message if not)."""
    assert result.returncode == 0, (
        f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


def trained_example(base: Path) -> Path:
    """The trained example under ``base`` (trained on the first call of the session)."""
    global _trained
    with _lock:
        if _trained is None:
            root = base / "trained-objects"
            shutil.copytree(
                EXAMPLE, root, ignore=shutil.ignore_patterns(".edgeops", "app", "__pycache__")
            )
            ok(edgeops(root, "apply", "--auto-approve"))
            _trained = root
        return _trained


def copy_example(trained: Path, dst: Path) -> Path:
    shutil.copytree(trained, dst)
    return dst
