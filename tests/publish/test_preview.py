"""A threshold or gate change alone is judged at plan time from the stored evaluation: the plan
shows the new threshold, precision, recall and verdict, and apply records exactly that."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_helpers import edit, plan
from trained_example import edgeops, ok

pytestmark = pytest.mark.slow  # the trained example (shared by the session)


def _version(root: Path) -> dict[str, object]:
    shown = json.loads(plan(root, "--format", "json"))  # no changes left: nothing to preview
    assert shown["changes"] == [], shown["changes"]
    live = json.loads(ok(edgeops(root, "show", "--json")))
    (version,) = [v for v in live["models"]["model.objects"]["versions"] if v["version"] == 1]
    return version


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("      max_f1: true\n", "      target_precision: 0.99\n"),
        ("      min_precision: 0.6\n", "      min_precision: 0.999\n"),
    ],
    ids=["threshold", "gate"],
)
def test_the_plan_previews_a_re_evaluation_and_apply_records_exactly_it(
    example: Path, old: str, new: str
) -> None:
    edit(example, old, new)
    planned = json.loads(plan(example, "--format", "json"))
    (change,) = [c for c in planned["changes"] if c["action"] == "evaluate"]
    (gate,) = change["gates"]
    assert gate["decided"] == "previewed" and gate["version"] == 1
    text = plan(example)
    assert "previewed from the stored evaluation: threshold" in text
    markdown = plan(example, "--format", "markdown")
    assert "decided at apply" not in markdown and "(previewed)" in markdown

    applied = edgeops(example, "apply", "--auto-approve")
    assert applied.returncode == (0 if gate["passed"] else 1), applied.stdout + applied.stderr
    version = _version(example)
    summary = version["metrics"]["summary"]  # type: ignore[index]
    assert version["threshold"] == pytest.approx(gate["threshold"])
    assert version["blessed"] is gate["passed"]
    assert summary["precision"] == pytest.approx(gate["precision"])
    assert summary["recall"] == pytest.approx(gate["recall"])
