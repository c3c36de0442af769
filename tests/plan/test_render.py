"""Rendering tests: golden files for text and markdown, versioned JSON, the markdown size cap.

Regenerate the golden files after an intended change of the output with
``UPDATE_GOLDEN=1 python -m pytest tests/plan/test_render.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgeops.config.model import BundleTarget, GateSpec, ThresholdRule
from edgeops.plan.builder import build_plan
from edgeops.plan.definition import FORMAT_VERSION, LEGEND, Action, Change, Plan
from edgeops.plan.render import (
    GITHUB_COMMENT_LIMIT,
    render_json,
    render_markdown,
    render_text,
    summary_line,
)
from edgeops.state import DesiredPublish, LivePublish

from .factories import (
    dataset,
    desired,
    img,
    imgs,
    live,
    live_dataset,
    live_model,
    live_registry,
    model,
    registry,
    version,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"output differs from {path}; if the change is intended, rerun with UPDATE_GOLDEN=1 "
        "and review the diff"
    )


def mixed_plan() -> Plan:
    """One plan with every action: dataset update/forget, train, evaluate, delete, forget,
    publish create/update/unpublish, drift and warnings."""
    pets_before = imgs({"cat": range(0, 12), "dog": range(12, 24)})
    pets_after = tuple(r for r in pets_before if r.sha256 != img(23).sha256) + imgs(
        {"cat": range(30, 33), "bird": range(40, 52)}
    )
    pets = dataset("pets", pets_after, warnings=("label 'bird' has 12 images; 100 recommended",))
    pets_model_v1 = model("pets", dataset("pets", pets_before))
    pets_model = model("pets", pets)
    toys_rows = imgs({"car": range(100, 110), "ball": range(110, 120)})
    toys = dataset("toys", toys_rows)
    toys_old = model("toys", toys, node_hours=0.05)
    toys_v2 = model("toys", toys, keep=1)
    toys_now = model("toys", toys, keep=1, threshold=ThresholdRule(target_precision=0.9))
    pets_registry = registry("pets", tags=("prod",))
    toys_registry = registry("toys", "toy-detector")
    bundle = DesiredPublish(
        address="publish.pets.bundle",
        model="pets",
        kind="bundle",
        target=BundleTarget(path=Path("/repo/app/pets.tflite")),
        spec={"path": "app/pets.tflite", "format": "int8"},
    )
    live_bundle = LivePublish(
        address=bundle.address,
        model="pets",
        kind="bundle",
        version=1,
        spec=bundle.spec,
        drift=("app/pets.tflite was deleted",),
    )
    want = desired(pets, toys, pets_model, toys_now, pets_registry, toys_registry)
    have = live(
        live_dataset("pets", pets_before),
        live_dataset("scratch", imgs({"x": range(200, 210)})),
        live_dataset("toys", toys_rows),
        live_model(version(pets_model_v1, 1)),
        live_model(version(toys_old, 1), version(toys_v2, 2)),
        live_model(version(model("legacy", toys), 1)),
        live_registry(pets_registry, 1),
        live_bundle,
    )
    return build_plan(want, have, config_path="edgeops.yaml")


EMPTY = Plan(backend="local", config_path="edgeops.yaml")


def test_mixed_plan_has_every_action() -> None:
    assert {c.action for c in mixed_plan().changes} == set(Action)


def test_text_golden_mixed() -> None:
    assert_golden("plan_mixed.txt", render_text(mixed_plan(), color=False, width=100))


def test_text_golden_empty() -> None:
    text = render_text(EMPTY, color=False, width=100)
    assert text == "No changes.\n"
    assert_golden("plan_empty.txt", text)


def test_markdown_golden_mixed() -> None:
    assert_golden("plan_mixed.md", render_markdown(mixed_plan()))


def test_markdown_golden_empty() -> None:
    md = render_markdown(EMPTY)
    assert "**No changes.**" in md
    assert_golden("plan_empty.md", md)


def test_text_without_colour_has_no_escape_codes() -> None:
    assert "\x1b[" not in render_text(mixed_plan(), color=False)
    assert "\x1b[" in render_text(mixed_plan(), color=True)


def test_text_lines_have_no_trailing_spaces() -> None:
    assert all(line == line.rstrip() for line in render_text(mixed_plan()).splitlines())


def test_text_ends_with_the_summary_line() -> None:
    plan = mixed_plan()
    assert render_text(plan).rstrip("\n").splitlines()[-1] == summary_line(plan)


# --- summary and legend ------------------------------------------------------------------------


def _plan(*actions: Action) -> Plan:
    changes = tuple(
        Change(address=f"dataset.d{i}", action=a, reason="because") for i, a in enumerate(actions)
    )
    return Plan(backend="local", config_path="edgeops.yaml", changes=changes)


@pytest.mark.parametrize(
    ("actions", "line"),
    [
        ((), "No changes."),
        ((Action.CREATE,), "Plan: 1 to create, 0 to update, 0 to train, 0 to remove."),
        (
            (Action.CREATE, Action.CREATE, Action.UPDATE, Action.TRAIN, Action.DELETE),
            "Plan: 2 to create, 1 to update, 1 to train, 1 to remove.",
        ),
        (
            (Action.EVALUATE, Action.UNPUBLISH, Action.FORGET, Action.DELETE),
            "Plan: 0 to create, 0 to update, 0 to train, 1 to re-evaluate, 3 to remove.",
        ),
    ],
)
def test_summary_line_counts(actions: tuple[Action, ...], line: str) -> None:
    assert summary_line(_plan(*actions)) == line


def test_summary_line_mentions_drift_when_there_are_no_changes() -> None:
    plan = Plan(backend="local", config_path="x", drift=(("publish.a.bundle", "gone"),))
    assert summary_line(plan) == "No changes. Drift detected: see above."


def _legend(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("Legend:")]
    return line


def test_legend_lists_only_the_symbols_used() -> None:
    legend = _legend(render_text(_plan(Action.CREATE, Action.FORGET)))
    assert legend == f"Legend: + {LEGEND[Action.CREATE]}  / {LEGEND[Action.FORGET]}"


def test_legend_of_the_mixed_plan_lists_every_symbol_once() -> None:
    legend = _legend(render_text(mixed_plan()))
    for a in Action:
        assert legend.count(f"{a.symbol} {LEGEND[a]}") == 1


def test_markdown_summary_table_lists_only_the_actions_used() -> None:
    md = render_markdown(_plan(Action.UPDATE, Action.UPDATE))
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert rows == [f"| `~` {LEGEND[Action.UPDATE]} | 2 |"]


# --- JSON --------------------------------------------------------------------------------------


def test_json_is_versioned_and_round_trips() -> None:
    plan = mixed_plan()
    data = json.loads(render_json(plan))
    assert data["format_version"] == FORMAT_VERSION
    assert data["summary"] == {a.value: n for a, n in plan.counts().items()}
    again = Plan.from_dict(data)
    assert again == plan
    assert render_json(again) == render_json(plan)


def test_json_of_the_empty_plan() -> None:
    data = json.loads(render_json(EMPTY))
    assert data["changes"] == [] and data["format_version"] == FORMAT_VERSION
    assert Plan.from_dict(data) == EMPTY


# --- markdown size cap --------------------------------------------------------------------------


def _huge_plan(n: int = 5000) -> Plan:
    changes = []
    for i in range(n):
        action = [Action.TRAIN, Action.UPDATE, Action.CREATE][i % 3]
        changes.append(
            Change(
                address=f"model.m{i:04d}" if action == Action.TRAIN else f"dataset.d{i:04d}",
                action=action,
                reason=f"dataset.d{i:04d} changed (+{i} images, 2 new labels) " * 3,
                after=(
                    {"node_hours": 0.1, "optimize_for": "latency", "estimate_seconds": 60}
                    if action == Action.TRAIN
                    else None
                ),
                details={"per_label": {f"label{j}": {"added": j + 1} for j in range(5)}},
            )
        )
    return Plan(
        backend="local",
        config_path="edgeops.yaml",
        changes=tuple(changes),
        drift=tuple((f"publish.m{i}.registry", "registry tags changed") for i in range(500)),
        warnings=tuple(f"dataset.d{i}: label 'x' has 12 images" for i in range(500)),
    )


def test_markdown_of_a_huge_plan_stays_under_the_comment_limit() -> None:
    plan = _huge_plan()
    md = render_markdown(plan)
    assert len(md) < GITHUB_COMMENT_LIMIT
    assert "| action | count |" in md
    counts = plan.counts()
    for a in (Action.TRAIN, Action.UPDATE, Action.CREATE):
        assert f"| `{a.symbol}` {LEGEND[a]} | {counts[a]} |" in md
    assert md.rstrip("\n").splitlines()[-1] == f"**{summary_line(plan)}**"
    truncated = re.search(r"Details of (\d+) more change\(s\) were truncated", md)
    assert truncated is not None
    shown = md.count("<details>")
    assert shown > 0 and shown + int(truncated.group(1)) == len(plan.changes)


def test_markdown_of_a_small_plan_is_not_truncated() -> None:
    md = render_markdown(mixed_plan())
    assert "truncated" not in md
    assert md.count("<details>") == len(mixed_plan().changes)


def test_markdown_summary_is_not_inside_the_last_details_block() -> None:
    md = render_markdown(_plan(Action.CREATE))
    assert md.endswith(
        "</details>\n\n**Plan: 1 to create, 0 to update, 0 to train, 0 to remove.**\n"
    )


# --- the pull-request summary --------------------------------------------------------------------

GATE = GateSpec(min_precision=0.9, min_au_prc=0.9)


def review_plan() -> Plan:
    """What a reviewer sees most: a data change that retrains one model, a new target for an
    existing (gated) version of another, and a protected target removed."""
    shoes_rows = imgs({"boot": range(300, 312), "sandal": range(312, 324)})
    shoes = dataset("shoes", shoes_rows)
    shoes_model = model("shoes", shoes, gate=GATE)
    v1 = version(shoes_model, 1)
    v1 = replace(
        v1,
        metrics={
            **v1.metrics,
            "summary": {"threshold": 0.5, "precision": 0.912, "recall": 0.874, "au_prc": 0.951},
        },
    )
    bags_before = imgs({"tote": range(400, 412), "clutch": range(412, 424)})
    bags = dataset("bags", bags_before + imgs({"tote": range(430, 450)}))
    bags_model = model("bags", bags, node_hours=0.5, gate=GateSpec(min_recall=0.8))
    bags_reg = registry("bags")
    shoes_reg = registry("shoes")
    shoes_bundle = DesiredPublish(
        address="publish.shoes.bundle",
        model="shoes",
        kind="bundle",
        target=BundleTarget(path=Path("/repo/app/shoes.tflite")),
        spec={"path": "app/shoes.tflite", "format": "int8"},
    )
    legacy = replace(registry("shoes", "shoes-legacy"), address="publish.shoes.legacy")
    want = desired(shoes, bags, shoes_model, bags_model, shoes_reg, shoes_bundle, bags_reg)
    have = live(
        live_dataset("shoes", shoes_rows),
        live_dataset("bags", bags_before),
        live_model(v1),
        live_model(version(model("bags", dataset("bags", bags_before), node_hours=0.5), 1)),
        live_registry(shoes_reg, 1),
        live_registry(bags_reg, 1),
        live_registry(legacy, 1),
    )
    return build_plan(want, have, config_path="edgeops.yaml")


def _section(md: str, title: str) -> list[str]:
    lines = md.splitlines()
    start = lines.index(title)
    end = lines.index("", start + 2)
    return lines[start:end]


def test_markdown_golden_review() -> None:
    assert_golden("plan_review.md", render_markdown(review_plan(), note="for `abc1234`"))


def test_markdown_gates_show_recorded_metrics_against_the_bars() -> None:
    md = render_markdown(review_plan())
    rows = _section(md, "**Gates of the versions to publish**")
    assert (
        "| `model.shoes` v1 | bundle | 0.50 | 0.912 ≥ 0.9 | 0.874 | 0.951 ≥ 0.9 | ✅ passed |"
        in rows
    )
    assert (
        "| `model.bags` new version | registry | value 0.5 | — | bar ≥ 0.8 | — "
        "| decided at apply (trained by this apply) |"
    ) in rows


def test_markdown_warns_when_a_version_would_publish_without_a_gate() -> None:
    rows = _section(render_markdown(mixed_plan()), "**Gates of the versions to publish**")
    assert rows[-1].endswith(
        "decided at apply (re-evaluated by this apply); ⚠️ no gate set: any score publishes |"
    )


def test_markdown_summary_comes_before_the_details() -> None:
    md = render_markdown(review_plan())
    order = [
        md.index("**Plan: "),
        md.index("**Blocked by protection**"),
        md.index("| action | count |"),
        md.index("**Training budget:**"),
        md.index("**Gates of the versions to publish**"),
        md.index("<details>"),
    ]
    assert order == sorted(order)
    assert "publish.shoes.legacy: would be unpublished; it serves v1 of model.shoes" in md


def test_markdown_says_when_destruction_was_allowed() -> None:
    md = render_markdown(replace(review_plan(), allow_destroy=True))
    assert "**Destroys published models** (allowed by --allow-destroy)" in md
    assert "Blocked by protection" not in md and "To keep a target" not in md


def test_markdown_training_budget_sums_budgets_and_cost_ceilings() -> None:
    changes = tuple(
        Change(
            address=f"model.m{i}",
            action=Action.TRAIN,
            reason="no trained version yet",
            after={"node_hours": h, "estimate_seconds": 600, "cost_ceiling": f"${h * 18:,.2f}"},
        )
        for i, h in enumerate((0.1, 100.0))
    )
    md = render_markdown(Plan(backend="google", config_path="x", changes=changes))
    assert (
        "**Training budget:** 100.1 node hours for 2 model(s), estimated ~16m00s; "
        "cost ceiling ≤ $1,801.80"
    ) in md
    assert (
        "| `model.m1` | train | no trained version yet | 100 node h (≤ $1,800.00) | ~10m00s |" in md
    )


def test_markdown_of_a_huge_review_plan_keeps_every_summary_section() -> None:
    plan = review_plan()
    many = tuple(
        replace(c, address=f"{c.address}{i}", reason=c.reason + " x" * 400)
        for i in range(800)
        for c in plan.changes
    )
    huge = replace(plan, changes=many, warnings=tuple("w" * 1000 for _ in range(100)))
    md = render_markdown(huge)
    assert len(md) < GITHUB_COMMENT_LIMIT
    for title in (
        "**Blocked by protection**: apply refuses this plan.",
        "| action | count |",
        "**Gates of the versions to publish**",
        "**Warnings**",
    ):
        assert title in md
    assert "**Training budget:** 400 node hours for 800 model(s)" in md
    assert "- … and 70 more" in md
    assert re.search(r"Details of \d+ more change\(s\) were truncated", md)


def _interval(value: float, lo: float, hi: float, n: int, method: str = "wilson") -> dict[str, Any]:
    return {"value": value, "lo": lo, "hi": hi, "n": n, "method": method}


def review_plan_with_intervals() -> Plan:
    """The review plan, v1 of shoes recorded with 95% intervals (as versions evaluated since
    intervals exist are)."""
    plan = review_plan()
    intervals = {
        "precision": _interval(0.912, 0.80, 0.97, 57),
        "recall": _interval(0.874, 0.78, 0.93, 68),
        "au_prc": _interval(0.951, 0.89, 0.99, 80, "bootstrap"),
    }
    changes = tuple(
        replace(c, gates=tuple(replace(g, intervals=intervals) for g in c.gates))
        if c.address == "publish.shoes.bundle"
        else c
        for c in plan.changes
    )
    return replace(plan, changes=changes)


def test_markdown_gates_show_recorded_intervals_and_warn_on_bars_inside_them() -> None:
    md = render_markdown(review_plan_with_intervals())
    rows = _section(md, "**Gates of the versions to publish**")
    assert (
        "| `model.shoes` v1 | bundle | 0.50 | 0.912 ≥ 0.9 (0.80–0.97, n=57) "
        "| 0.874 (0.78–0.93, n=68) | 0.951 ≥ 0.9 (0.89–0.99, n=80) | ✅ passed |"
    ) in rows
    gates = md.split("**Gates of the versions to publish**", 1)[1].split("<details>", 1)[0]
    assert "_Each metric: value, then its 95% interval and n" in gates
    # both bars lie inside their intervals: the split cannot tell
    assert (
        "- ⚠️ `model.shoes` v1: test split too small to support min_precision 0.9: "
        "precision 0.91, 95% CI 0.80–0.97, n=57"
    ) in gates
    assert "min_au_prc 0.9: au_prc 0.95, 95% CI 0.89–0.99, n=80" in gates


def test_text_shows_a_recorded_gate_with_its_intervals() -> None:
    text = render_text(review_plan_with_intervals(), width=300)
    assert (
        "    gate of shoes v1 at threshold 0.50: precision 0.912 ≥ 0.9 (95% CI 0.80–0.97, n=57), "
        "recall 0.874 (95% CI 0.78–0.93, n=68), AuPRC 0.951 ≥ 0.9 (95% CI 0.89–0.99, n=80): "
        "passed"
    ) in text
    assert "    ! test split too small to support min_precision 0.9: precision 0.91" in text
    # versions recorded before intervals: no gate line in text (the markdown table has them)
    assert "gate of shoes" not in render_text(review_plan(), width=300)
