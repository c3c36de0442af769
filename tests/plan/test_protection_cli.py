"""Protection through the CLI on the real local backend: published targets survive a removal
from the config unless `protect: false` was recorded or --allow-destroy is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops import cli
from edgeops.backends.local.registry import Registry

from .test_apply_local import _plan, published  # noqa: F401 (the fixture)

BUNDLE = "    bundle:\n      path: app/pets.tflite\n"


def _edit(repo: Path, old: str, new: str) -> None:
    text = (repo / "edgeops.yaml").read_text()
    assert text.count(old) == 1, old
    (repo / "edgeops.yaml").write_text(text.replace(old, new))


def _targets(repo: Path) -> list[str]:
    reg = Registry(repo / ".edgeops" / "registry.sqlite")
    try:
        return sorted(reg.publish_rows())
    finally:
        reg.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_removing_a_protected_target_stops_plan_and_apply(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(published, BUNDLE, "")
    code, out, err = _run(capsys, "plan", "--out", "plan.json")
    assert code == 1
    assert "- publish.pets.bundle (unpublish; blocked by protection)" in out  # shown, then refused
    assert "publish.pets.bundle: would be unpublished; it serves v1 of model.pets" in err
    assert "--allow-destroy" in err and "protect: false" in err
    assert "every published target" not in err  # the registry target stays
    assert not (published / "plan.json").exists()
    code, _, err = _run(capsys, "apply", "--auto-approve")
    assert code == 1 and "publish.pets.bundle" in err
    assert _targets(published) == ["publish.pets.bundle", "publish.pets.registry"]
    assert (published / "app" / "pets.tflite").exists()


def test_protect_false_is_recorded_then_the_removal_needs_no_flag(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(published, BUNDLE, BUNDLE + "      protect: false\n")
    code, out = _plan(capsys)
    assert code == 2 and "protect true -> false" in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    _edit(published, BUNDLE + "      protect: false\n", "")
    code, out = _plan(capsys)
    assert code == 2 and "- publish.pets.bundle (unpublish)" in out
    assert "blocked" not in out
    assert cli.main(["apply", "--auto-approve"]) == 0
    assert _targets(published) == ["publish.pets.registry"]
    assert not (published / "app" / "pets.tflite").exists()


def test_a_plan_saved_with_allow_destroy_applies_without_repeating_it(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(published, BUNDLE, "")
    code, out, _ = _run(capsys, "plan", "--allow-destroy", "--out", "plan.json")
    assert code == 0 and "protected, allowed by --allow-destroy" in out
    assert _run(capsys, "apply", "plan.json")[0] == 0
    assert _targets(published) == ["publish.pets.registry"]


def test_removing_every_target_is_refused_even_unprotected(
    published: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _edit(published, "      tags: [prod]\n", "      tags: [prod]\n      protect: false\n")
    _edit(published, BUNDLE, BUNDLE + "      protect: false\n")
    assert cli.main(["apply", "--auto-approve"]) == 0
    text = (published / "edgeops.yaml").read_text()
    (published / "edgeops.yaml").write_text(text[: text.index("publish:")])
    code, _, err = _run(capsys, "plan")
    assert code == 1
    assert "every published target would be removed" in err
    assert "publish.pets.bundle, publish.pets.registry" in err
    assert "would be unpublished" not in err  # neither is protected on its own
    assert _run(capsys, "apply", "--auto-approve")[0] == 1
    assert len(_targets(published)) == 2
    assert _run(capsys, "apply", "--auto-approve", "--allow-destroy")[0] == 0
    assert _targets(published) == []
