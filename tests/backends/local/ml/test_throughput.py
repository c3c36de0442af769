"""The throughput record in the machine cache, the plan's estimate made from it, its wording,
and the actual time shown beside the estimate (fast: no training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeops import cli
from edgeops.backends.local.ml import estimate, throughput
from edgeops.backends.local.ml.features import label_turns
from edgeops.views.text import timing_lines


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("EDGEOPS_CACHE_DIR", str(tmp_path / "machine"))
    return tmp_path / "machine"


def test_no_record_means_reference_figures() -> None:
    m = throughput.measured("latency")
    assert m.runs == 0 and m.medians == {}
    assert m.basis == "no earlier run here: reference figures"
    got = estimate.machine_estimate(500, "latency")
    assert got.seconds == estimate.estimate_seconds(500, "latency")
    assert got.basis == "no earlier run here: reference figures"


def test_record_keeps_the_last_runs_and_estimates_use_their_median(machine: Path) -> None:
    for view_s in (0.5, 0.02, 0.03):
        throughput.record("latency", {"view_s": view_s, "export_s": 10.0, "evaluate_s": 0.01})
    assert (machine / "trainer" / "throughput.json").exists()
    m = throughput.measured("latency")
    assert m.runs == 3
    assert m.medians["view_s"] == pytest.approx(0.03)
    assert m.basis == "estimated from 3 earlier runs on this machine"
    assert throughput.measured("accuracy").runs == 0  # per backbone
    got = estimate.machine_estimate(500, "latency")
    assert got.seconds == estimate.estimate_seconds(500, "latency", measured=m.medians)
    assert got.seconds != estimate.estimate_seconds(500, "latency")
    for _ in range(throughput.KEEP + 3):
        throughput.record("latency", {"view_s": 1.0})
    m = throughput.measured("latency")
    assert m.runs == throughput.KEEP and m.medians["view_s"] == 1.0
    assert m.medians["export_s"] == 10.0  # phases a run did not measure keep their figures


def test_one_run_is_singular_and_a_broken_record_is_ignored(machine: Path) -> None:
    throughput.record("balanced", {"export_s": 30.0})
    assert throughput.measured("balanced").basis == "estimated from 1 earlier run on this machine"
    (machine / "trainer" / "throughput.json").write_text("{not json")
    assert throughput.measured("balanced").runs == 0


def test_slower_machine_gives_a_larger_estimate() -> None:
    slow = {"view_s": 0.2, "head_s": 0.01, "export_s": 120.0, "evaluate_s": 0.2}
    assert estimate.estimate_seconds(1000, "latency", measured=slow) > estimate.estimate_seconds(
        1000, "latency"
    )
    reserve = estimate.export_reserve_seconds("latency", 100, slow)
    assert reserve == pytest.approx(120.0 + 100 * 0.2)
    # no conversion at export (the head is grafted), except where the family fine-tunes (which
    # also calibrates on more images)
    assert estimate.export_reserve_seconds("latency") == pytest.approx(estimate.QUANTIZE_S + 2.0)
    assert estimate.export_reserve_seconds("accuracy") == pytest.approx(
        estimate.CONVERT_S["accuracy"] + estimate.QUANTIZE_S + estimate.CALIBRATE_FINE_TUNED_S + 2.0
    )


def test_label_turns_covers_every_label_early() -> None:
    from edgeops.backends.local.ml import TrainingExample

    examples = [TrainingExample(Path(f"{lab}.png"), (lab[0],), "train") for lab in ("a1", "a2")]
    examples += [TrainingExample(Path(f"c{i}.png"), ("c",), "train") for i in range(3)]
    examples.append(TrainingExample(Path("b.png"), ("b",), "train"))
    order = label_turns(examples)
    assert sorted(order) == list(range(len(examples)))
    assert {examples[i].labels[0] for i in order[:3]} == {"a", "b", "c"}


def test_timing_lines_show_the_estimate_beside_the_actual_time() -> None:
    lines = timing_lines(
        [
            (1, 0.02, {"seconds": 58.0, "basis": "no earlier run here: reference figures"}),
            (2, 0.01, None),  # trained before estimates were recorded
        ]
    )
    assert lines == [
        "v1: trained in 1m12s; the plan estimated ~58s (no earlier run here: reference figures)"
    ]
    assert timing_lines([(3, 0.001, {"seconds": 4.0, "basis": ""})], "model.pets") == [
        "model.pets v3: trained in 4s; the plan estimated ~4s"
    ]


MODEL = """\
models:
  pets:
    dataset: pets
    budget: {node_hours: 0.05}
"""


def test_plan_says_what_its_estimate_comes_from(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (repo / "edgeops.yaml").open("a") as f:  # the repo's dataset, and a model of it
        f.write(MODEL)
    assert cli.main(["-C", str(repo), "plan"]) == 0
    out = capsys.readouterr().out
    assert "(no earlier run here: reference figures)" in out
    for _ in range(3):
        throughput.record("latency", {"view_s": 0.02, "export_s": 20.0})
    assert cli.main(["-C", str(repo), "plan"]) == 0
    out = capsys.readouterr().out
    assert "(estimated from 3 earlier runs on this machine)" in out
