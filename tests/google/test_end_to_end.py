"""The example config with a google backend, planned and applied through the real CLI against
the fakes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_plan_apply_then_no_changes(
    google: FakeGoogle, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "plan", "-f", str(repo))
    assert code == 0, out
    assert "dataset.objects" in out and "model.objects" in out
    assert "publish.objects.firebase" in out
    code, out = run(capsys, "apply", "-f", str(repo), "--auto-approve")
    assert code == 0, out
    assert "Apply complete" in out
    assert len(google.pipelines) == 1
    code, out = run(capsys, "plan", "-f", str(repo))
    assert code == 0, out
    assert "No changes." in out, out[:3000]
