"""`edgeops plan --train`: the pull request shows the trained candidate's real evaluation against
the served version; apply on merge adopts it byte for byte (no training); a saved plan is refused
once its candidate changed. Real training on the objects example (slow)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from publish_helpers import GATE_END, SEED_1, assert_adopted, edit, models, saved
from trained_example import edgeops, ok

pytestmark = pytest.mark.slow


def test_plan_train_shows_the_candidate_and_apply_adopts_it(example: Path) -> None:
    edit(example, GATE_END, GATE_END + SEED_1)
    t0 = time.monotonic()
    out = ok(edgeops(example, "plan", "--train", "--out", "plan.json"))
    trained_in = time.monotonic() - t0
    assert "candidate trained in plan at" in out
    assert "vs v1 (served), on the same" in out and "exact McNemar p" in out
    plan = saved(example, "plan.json")
    (train,) = [c for c in plan["changes"] if c["action"] == "train"]
    candidate = train["after"]["candidate"]
    assert candidate["champion"] == 1 and len(candidate["sha256"]) == 64
    metrics = {m["metric"]: m for m in candidate["comparison"]["metrics"]}
    assert {"top1_accuracy", "au_prc", "log_loss"} <= set(metrics)
    difference = metrics["top1_accuracy"]["difference"]
    assert difference["lo"] <= difference["value"] <= difference["hi"]
    gates = [g for c in plan["changes"] if c["address"].startswith("publish.") for g in c["gates"]]
    assert gates and all(g["decided"] == "candidate" for g in gates)
    markdown = ok(edgeops(example, "plan", "--format", "markdown"))  # found again, no training
    (listed,) = models(example)["candidates"]["model.objects"]  # visible before it is adopted
    assert listed["sha256"] == candidate["sha256"]
    assert "Candidates trained in plan" in markdown and "decided at apply" not in markdown

    t0 = time.monotonic()
    result = edgeops(example, "apply", "plan.json")
    adopted_in = time.monotonic() - t0
    applied = ok(result) + result.stderr  # progress and notes go to stderr
    assert "adopted the candidate trained in plan at" in applied
    assert_adopted(example, candidate["sha256"])

    # `edgeops eval` of the adopted version shows the same comparison, and its HTML report lists
    # the images fixed and broken with their thumbnails
    live = json.loads(ok(edgeops(example, "show", "--json")))
    (version,) = [v for v in live["models"]["model.objects"]["versions"] if v["version"] == 2]
    assert version["metrics"]["comparison"]["champion"] == 1
    evaluated = ok(edgeops(example, "eval", "model.objects", "--html", "report.html"))
    assert "compared with v1" in evaluated and "exact McNemar p" in evaluated
    page = (example / "report.html").read_text()
    assert "Against the published version" in page and "exact McNemar p" in page
    for what in ("fixed", "broken"):  # a fixed image is no mistake: only the comparison shows it
        ids = candidate["comparison"][what]
        assert all(f'<img alt="{i}"' in page for i in ids[:48]), what
        assert ids or f"No image {what}" in page
    print(f"plan --train {trained_in:.1f} s, apply adopting it {adopted_in:.1f} s")


def test_a_saved_plan_is_refused_when_its_candidate_changed(example: Path) -> None:
    edit(example, GATE_END, GATE_END + SEED_1.replace("1", "2"))
    ok(edgeops(example, "plan", "--train", "--out", "plan.json"))
    (record,) = (example / ".edgeops" / "candidates").glob("*/*/candidate.json")
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "sha256": "0" * 64}))  # retrained meanwhile
    refused = edgeops(example, "apply", "plan.json")
    assert refused.returncode == 1
    assert "stale" in refused.stderr and "model.objects" in refused.stderr
    assert [v["version"] for v in models(example)["models"]["model.objects"]] == [1]
