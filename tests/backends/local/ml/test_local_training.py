"""Slow: real training, export and evaluation on the objects example (see conftest)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgeops.config.model import BudgetSpec, GateSpec, ThresholdRule

pytestmark = pytest.mark.slow


def test_version_folder_is_complete(trained, objects) -> None:
    out = trained.out_dir
    for name in (
        "model_int8.tflite",
        "model_float32.tflite",
        "labels.txt",
        "model_card.json",
        "evaluation.json",
        "report.html",
    ):
        assert (out / name).is_file(), name
    assert (out / "labels.txt").read_text().split() == list(objects.labels)
    card = json.loads((out / "model_card.json").read_text())
    assert card["version"] == 1 and card["dataset_fingerprint"] == "sha256:test"
    assert card["stop_reason"] in ("MODEL_CONVERGED", "BUDGET_REACHED")
    assert card["stop_reason"] == trained.stop_reason
    for name, digest in trained.sha256.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
        assert card["sha256"][name] == digest
    assert 0 < trained.cost_node_hours < 0.05
    assert set(trained.timings) == {"features", "train", "calibrate", "export", "evaluate"}
    # label smoothing leaves the head under-confident: the fitted temperature sharpens it
    calibration = card["training"]["calibration"]
    assert 0.2 < calibration["temperature"] < 1.0
    assert calibration["held_out"] == ["validation (31)", "train out-of-fold (150)"]
    # class weights: `auto` weighs exactly when the train split's labels are imbalanced
    weighing = card["training"]["class_weights"]
    train_labels = [e.labels[0] for e in objects.examples if e.split == "train"]
    counts = [train_labels.count(lab) for lab in objects.labels]
    assert weighing["mode"] == "auto"
    assert weighing["imbalance"] == pytest.approx(max(counts) / min(counts), abs=0.01)
    assert weighing["applied"] == (max(counts) / min(counts) >= 1.5)
    if weighing["applied"]:
        assert set(weighing["weights"]) == set(objects.labels)
    # atomic: no temporary folder left beside the version
    assert [p.name for p in out.parent.iterdir()] == ["v1"]


def test_int8_model_keeps_the_stem_and_first_block_float(trained) -> None:
    import re

    from ai_edge_litert.interpreter import Interpreter

    from edgeops.backends.local.ml.export import FLOAT_LAYERS

    it = Interpreter(model_path=str(trained.out_dir / "model_int8.tflite"))
    tensors = it.get_tensor_details()
    early = [t for t in tensors if re.search(FLOAT_LAYERS, t["name"])]
    assert any(t["dtype"] == np.float32 for t in early), [t["name"] for t in tensors[:20]]
    later = [t for t in tensors if "MBConvBlock_5/" in t["name"]]
    assert later and {t["dtype"] for t in later} <= {np.int8, np.int32}


def test_int8_model_runs_in_litert_with_uint8_pixels(trained) -> None:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(trained.out_dir / "model_int8.tflite"))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and list(inp["shape"]) == [1, 224, 224, 3]
    scale, zero = inp["quantization"]
    assert scale == pytest.approx(1 / 128) and zero == 127  # == (pixel - 127) / 128
    assert out["dtype"] == np.uint8
    it.set_tensor(inp["index"], np.full((1, 224, 224, 3), 128, np.uint8))
    it.invoke()
    probs = (it.get_tensor(out["index"])[0].astype(float) - out["quantization"][1]) * (
        out["quantization"][0]
    )
    assert probs.sum() == pytest.approx(1.0, abs=0.05)


def test_test_split_accuracy_well_above_chance(trained, objects) -> None:
    ev = trained.evaluation
    assert ev.n_examples == sum(e.split == "test" for e in objects.examples)
    assert ev.top1_accuracy >= 0.75  # chance is 1/6
    assert ev.au_prc >= 0.8
    assert ev.extra["int8_float_top1_agreement"] >= 0.9
    assert trained.gate.passed  # min_au_prc 0.8


def test_metadata_carries_labels_and_normalization(trained, objects) -> None:
    from edgeops.backends.local.ml.tflite_io import read_metadata

    for name in ("model_int8.tflite", "model_float32.tflite"):
        meta = read_metadata((trained.out_dir / name).read_bytes())
        assert meta["identifier"] == "M001"
        assert meta["files"]["labels.txt"].split() == list(objects.labels)


MEDIAPIPE_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import mediapipe as mp
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision
    from PIL import Image
    model, paths = sys.argv[1], sys.argv[2:]
    opts = vision.ImageClassifierOptions(
        base_options=mpt.BaseOptions(model_asset_path=model), max_results=1)
    out = []
    with vision.ImageClassifier.create_from_options(opts) as clf:
        for p in paths:
            rgb = np.ascontiguousarray(np.asarray(Image.open(p).convert("RGB")))
            r = clf.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            c = r.classifications[0].categories[0]
            out.append([c.category_name, c.score])
    print("RESULT" + json.dumps(out))
""")


def test_mediapipe_image_classifier_agrees_with_litert(trained, objects) -> None:
    pytest.importorskip("mediapipe")
    from edgeops.runtime.images import load_rgb, to_input
    from edgeops.runtime.litert import LiteRTRunner

    test = [e for e in objects.examples if e.split == "test"]
    model = trained.out_dir / "model_int8.tflite"
    proc = subprocess.run(
        [sys.executable, "-c", MEDIAPIPE_SCRIPT, str(model), *[str(e.image_path) for e in test]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line is not None, proc.stderr[-2000:]
    mp_top = [name for name, _ in json.loads(line[len("RESULT") :])]
    run = LiteRTRunner(model)
    ours = [
        objects.labels[int(np.argmax(run.scores(to_input(load_rgb(e.image_path), 224))))]
        for e in test
    ]
    # MediaPipe's names come from the metadata's labels file; its resize differs slightly
    # from Pillow's, so allow one disagreement at most.
    agree = sum(a == b for a, b in zip(mp_top, ours, strict=True))
    assert agree >= len(test) - 1, list(zip(mp_top, ours, strict=True))


def test_impossible_gate_fails_without_retraining(trained, spec) -> None:
    from edgeops.backends.local.ml import re_evaluate

    trained_spec = spec
    spec = dataclasses.replace(
        trained_spec,
        threshold=ThresholdRule(value=0.5),
        gate=GateSpec(min_precision=1.01, min_au_prc=0.5),
    )
    threshold, gate = re_evaluate(trained.out_dir, spec)
    assert threshold == 0.5 and not gate.passed
    assert [(r.metric, r.ok) for r in gate.rows] == [("precision", False), ("au_prc", True)]
    assert gate.rows[0].value == trained.evaluation.overall.at(0.5)["precision"]
    # the trained rule (max_f1) is reproduced from evaluation.json
    assert re_evaluate(trained.out_dir, trained_spec)[0] == trained.threshold


def test_same_seed_same_head(trained, objects, cache_dir) -> None:
    import time

    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone
    from edgeops.backends.local.ml.features import extract_features, view_names
    from edgeops.backends.local.ml.head import train_head
    from edgeops.files import sha256_file

    bb = backbone_for("latency")
    path = feature_backbone(bb)  # converted by training, in the machine cache
    train = [e for e in objects.examples if e.split == "train"]
    jobs = [(e.image_path, sha256_file(e.image_path), view_names(True, 0)) for e in train]
    feats = extract_features(jobs, bb, path, cache_dir)  # all from the cache
    x = np.concatenate(feats)
    y = np.repeat(
        np.eye(len(objects.labels))[[objects.labels.index(e.labels[0]) for e in train]],
        [len(f) for f in feats],
        axis=0,
    )
    runs = [
        train_head(
            x,
            y,
            None,
            None,
            multi_label=False,
            seed=s,
            label_smoothing=0.1,
            early_stopping=False,
            deadline=time.monotonic() + 60,
            max_epochs=5,
        )
        for s in (7, 7, 8)
    ]
    assert np.array_equal(runs[0].weight, runs[1].weight)
    assert np.array_equal(runs[0].bias, runs[1].bias)
    assert not np.array_equal(runs[0].weight, runs[2].weight)


def test_multi_label_with_exhausted_budget(
    trained, objects, cache_dir, spec, tmp_path: Path
) -> None:
    """Sigmoid head, per-label thresholds, BUDGET_REACHED; features come from the cache
    (``trained`` filled it: the budget ends feature extraction at once)."""
    from edgeops.backends.local.ml import train_and_export
    from edgeops.progress import NullReporter

    spec = dataclasses.replace(spec, budget=BudgetSpec(node_hours=0.001))  # 3.6 s
    reporter = NullReporter()
    outcome = train_and_export(
        objects.examples,
        objects.labels,
        True,
        spec,
        tmp_path / "v2",
        version=2,
        dataset_fingerprint="sha256:ml",
        reporter=reporter,
        cache_dir=cache_dir,
    )
    assert outcome.stop_reason == "BUDGET_REACHED"
    assert any("budget" in w for w in reporter.warnings)
    assert set(outcome.label_thresholds) == set(objects.labels)
    assert outcome.evaluation.multi_label
    assert outcome.evaluation.top1_accuracy > 1 / 6  # one epoch on features beats chance
    card = json.loads((outcome.out_dir / "model_card.json").read_text())
    assert card["multi_label"] and card["training"]["epochs"] == 1
    assert card["training"]["class_weights"]["applied"] is False


def _cache_without_features(cache_dir: Path, dest: Path, images: list[Path]) -> Path:
    """A copy of the session's cache without the cached features of ``images``."""
    import shutil

    shutil.copytree(cache_dir, dest)
    for path in images:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        for f in dest.glob(f"features/*/{sha[:2]}/{sha}.*.npy"):
            f.unlink()
    return dest


def _train_on_a_tiny_budget(objects, spec, cache: Path, out: Path):  # noqa: ANN202
    """0.36 s of budget: less than export and evaluation take (the reserve, measured on this
    machine by the earlier trainings), so no feature is computed."""
    from edgeops.backends.local.ml import train_and_export
    from edgeops.progress import NullReporter

    reporter = NullReporter()
    outcome = train_and_export(
        objects.examples,
        objects.labels,
        False,
        dataclasses.replace(spec, budget=BudgetSpec(node_hours=0.0001)),
        out,
        version=4,
        dataset_fingerprint="sha256:tiny",
        reporter=reporter,
        cache_dir=cache,
    )
    return outcome, reporter


def test_budget_ends_feature_extraction_trains_on_what_was_extracted(
    trained, objects, cache_dir, spec, tmp_path: Path
) -> None:
    """Features of 4 train images per label are cached, the rest are not, and the budget ends
    extraction at once: the head trains on those, BUDGET_REACHED, the images used recorded."""

    train = [e for e in objects.examples if e.split == "train"]
    kept: dict[str, int] = {}
    dropped = []
    for e in train:
        if kept.get(e.labels[0], 0) < 4:
            kept[e.labels[0]] = kept.get(e.labels[0], 0) + 1
        else:
            dropped.append(e.image_path)
    cache = _cache_without_features(cache_dir, tmp_path / "cache", dropped)
    outcome, reporter = _train_on_a_tiny_budget(objects, spec, cache, tmp_path / "v4")
    n_val = sum(e.split == "validation" for e in objects.examples)
    assert outcome.stop_reason == "BUDGET_REACHED"
    assert outcome.images_used["train"] == 4 * len(objects.labels) < len(train)
    assert outcome.images_used["validation"] == n_val
    assert any("trained on 24 of" in n for n in outcome.notes)
    assert any("ended feature extraction" in w for w in reporter.warnings)
    card = json.loads((outcome.out_dir / "model_card.json").read_text())
    assert card["training"]["images_used"]["train"] == 4 * len(objects.labels)
    assert card["stop_reason"] == "BUDGET_REACHED"
    assert (outcome.out_dir / "model_int8.tflite").exists()  # export and evaluation completed


def test_budget_too_small_for_any_features_is_a_clear_error(
    trained, objects, cache_dir, spec, tmp_path: Path
) -> None:
    from edgeops.backends.local.ml.trainer import BudgetError
    from edgeops.errors import EdgeopsError

    train = [e.image_path for e in objects.examples if e.split == "train"]
    cache = _cache_without_features(cache_dir, tmp_path / "cache", train)
    with pytest.raises(BudgetError) as caught:
        _train_on_a_tiny_budget(objects, spec, cache, tmp_path / "v5")
    assert isinstance(caught.value, EdgeopsError)  # a user error: exit 1, no traceback
    message = str(caught.value)
    assert "budget.node_hours 0.0001 ran out while computing backbone features" in message
    assert f"0 of {len(train)} train images" in message
    wanted = float(message.rsplit("budget.node_hours: ", 1)[1].split()[0])
    assert wanted > 0.0001
    assert not (tmp_path / "v5").exists()


def test_failed_training_leaves_nothing(objects, cache_dir, spec, tmp_path: Path) -> None:
    from PIL import UnidentifiedImageError

    from edgeops.backends.local.ml import TrainingExample, train_and_export
    from edgeops.progress import NullReporter

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    examples = (*objects.examples, TrainingExample(broken, (objects.labels[0],), "train"))
    with pytest.raises(UnidentifiedImageError):
        train_and_export(
            examples,
            objects.labels,
            False,
            spec,
            tmp_path / "out" / "v3",
            version=3,
            dataset_fingerprint="x",
            reporter=NullReporter(),
            cache_dir=cache_dir,
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_backbone_converted_once_in_the_machine_cache(trained, cache_dir, machine_cache) -> None:
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import backbone_path

    converted = backbone_path(backbone_for("latency"), "features")
    assert converted.is_file() and converted.parent == machine_cache / "backbones"
    assert not (cache_dir / "backbones").exists()  # not per backend folder any more
