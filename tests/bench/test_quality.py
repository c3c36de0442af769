"""bench/quality.py's pieces that need no training: the digits cutter, the held-out splits (the
trainer never gets a held-out image), the HParams overrides, the paired figures and the CLI's
errors. The full benchmark trains 3 models per set (minutes); it is run by hand."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "quality.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_quality", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


q = _load()


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> list:
    return q.cut_digits(q.DIGITS_PNG, tmp_path_factory.mktemp("digits"))


def test_digits_cutter_gives_5000_cells_of_20x20_500_per_digit(digits) -> None:
    from PIL import Image

    assert len(digits) == 5000
    assert Counter(it.label for it in digits) == {str(d): 500 for d in range(10)}
    assert len({it.path for it in digits}) == 5000
    for it in digits[::97]:
        with Image.open(it.path) as im:
            assert im.size == (20, 20) and im.mode == "L"
    # rows 0-4 are zeros, 5-9 ones: the first and last cells of the sheet
    assert digits[0].label == "0" and digits[-1].label == "9"
    assert digits[499].label == "0" and digits[500].label == "1"


def test_digits_split_is_seeded_stratified_and_disjoint(digits) -> None:
    s = q.digits_set(digits, 1000, 2000, seed=0)
    assert (len(s.train), len(s.validation), len(s.held_out)) == (800, 200, 2000)
    assert Counter(it.label for it in s.held_out) == {str(d): 200 for d in range(10)}
    assert Counter(it.label for it in s.train) == {str(d): 80 for d in range(10)}
    paths = [set(it.path for it in part) for part in (s.train, s.validation, s.held_out)]
    assert sum(map(len, paths)) == len(set().union(*paths)) == 3000
    assert q.digits_set(digits, 1000, 2000, seed=0) == s
    assert q.digits_set(digits, 1000, 2000, seed=1).held_out != s.held_out


def test_trainer_never_gets_a_held_out_image(tmp_path: Path) -> None:
    with zipfile.ZipFile(q.OBJECTS_ZIP) as z:
        z.extractall(tmp_path)
    s = q.objects_set(tmp_path, seed=0)
    assert len(s.train) + len(s.validation) + len(s.held_out) == 212
    assert set(it.label for it in s.held_out) == set(s.labels) and len(s.labels) == 6
    examples = q.trainer_examples(s)
    held = {it.path for it in s.held_out}
    assert not held & {e.image_path for e in examples}
    by_split = Counter(e.split for e in examples)
    assert by_split["train"] == len(s.train) and by_split["validation"] == len(s.validation)
    # the trainer's test split: copies of validation images
    val = {it.path for it in s.validation}
    assert by_split["test"] > 0 and {e.image_path for e in examples if e.split == "test"} <= val


def test_hparams_overrides_flat_or_per_optimize_for() -> None:
    from edgeops.backends.local.ml.hparams import HParams

    assert q.hparams_for("latency", {}) is None
    flat = q.parse_hparams('{"epochs": 300, "learning_rate": 1}')
    expected = dataclasses.replace(HParams.for_accuracy(), epochs=300, learning_rate=1)
    assert q.hparams_for("accuracy", flat) == expected
    per = q.parse_hparams('{"accuracy": {"fine_tune_blocks": 4}}')
    assert q.hparams_for("latency", per) is None
    assert q.hparams_for("accuracy", per).fine_tune_blocks == 4
    for bad, why in (
        ('{"epochz": 1}', "unknown HParams field"),
        ('{"epochs": "many"}', "epochs must be int"),
        ('{"fine_tune": 1}', "fine_tune must be bool"),
        ("[1]", "expected a JSON object"),
        ("{", "not JSON"),
    ):
        with pytest.raises(q.BenchError, match=why):
            q.parse_hparams(bad)


def test_top1_and_paired_figures() -> None:
    t = q.top1([True, True, False, True])
    assert t["value"] == 0.75 and t["lo"] < 0.75 < t["hi"] and t["n"] == 4
    c = q.paired([True, True, True, False, True], [False, False, True, True, True])
    assert (c["a_only"], c["b_only"]) == (2, 1) and c["diff"] == pytest.approx(0.2)
    assert c["p"] == 1.0
    assert q.paired([True] * 6, [False] * 6)["p"] == pytest.approx(2 / 64)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sets", "mnist"], "--sets"),
        (["--optimize-for", "fast"], "--optimize-for"),
        (["--train", "995"], "multiples of 10"),
        (["--train", "4000"], "need 600 images per digit"),
        (["--node-hours", "0"], "--node-hours must be positive"),
    ],
)
def test_bad_options_are_one_line_errors(argv: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_table_shows_every_figure_and_show_reprints_it(tmp_path: Path) -> None:
    iv = {"value": 0.9, "lo": 0.8, "hi": 0.95, "k": 45, "n": 50}
    row = {
        "set": "digits",
        "optimize_for": "accuracy",
        "fine_tune_applied": True,
        "int8_top1": iv,
        "float_top1": {**iv, "value": 0.92},
        "vs_latency": {"diff": 0.02, "p": 0.5},
        "vs_probe": {"diff": -0.04, "p": 0.03125},
        "int8_vs_float": {"diff": -0.02, "p": 1.0},
        "wall_s": 123.4,
        "size_bytes": {"int8": 5_700_000, "float32": 19_300_000},
        "litert_latency_ms_2threads": {"int8": 19.2, "float32": 40.4},
    }
    sets = {"digits": {"images": {"train": 800, "validation": 200, "held_out": 2000}}}
    sets["digits"]["probe_top1"] = {**iv, "value": 0.94}
    text = q.table([row], sets)
    line = text.splitlines()[2]
    for cell in (
        "accuracy +ft",
        "800/200/2000",
        "0.900 [0.800–0.950]",
        "0.920 [0.800–0.950]",
        "0.940 [0.800–0.950]",
        "+0.020 (p=0.5)",
        "-0.040 (p=0.0312)",
        "-0.020 (p=1)",
        "123",
        "5.7/19.3",
        "19/40",
    ):
        assert cell in line, cell
    saved = tmp_path / "quality.json"
    saved.write_text(json.dumps({"rows": [row], "sets": sets}))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--show", str(saved)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.strip() == text
    saved.write_text("{}")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--show", str(saved)], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "not a JSON that --out wrote" in proc.stderr
