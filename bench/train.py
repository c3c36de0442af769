"""Benchmark the local training recipe on examples/objects (212 photos, 6 labels).

Prints a table and one JSON line (prefixed ``BENCH``): wall time per phase, test-split top-1 and
AuPRC of the exported int8 model (LiteRT), int8 vs float32 top-1 agreement, model sizes, LiteRT
latency with 2 threads, and a baseline on the same backbone features: scikit-learn's
LogisticRegression (a linear probe on the plain, un-augmented views).

    python bench/train.py [--optimize-for latency|balanced|accuracy] [--seed 0] [--warm DIR]
    python bench/train.py --images 1000

Cold by default (a fresh cache: backbone conversion and features included in the timings);
``--warm DIR`` reuses a cache folder across runs.

``--images N``: the real CLI (``edgeops apply --auto-approve``, local backend, a folder dataset)
on N images made deterministically from the example's photos (crops, mirrors, scales, colour
shifts, saved as JPEG; labels kept), three times: cold (empty machine cache and repo), a cold
repo with the machine cache warm (backbone already converted), and a head-only retrain
(``training.label_smoothing`` changed: features cached). Beside each, the floor measured right
after it in the same run: one pass of every image through the float model (decode + resize +
invoke, LiteRT, 2 threads), and the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from quality import latency_ms  # noqa: E402  (bench/, beside this script)

from edgeops.backends.local.ml import TrainingExample, estimate_seconds, train_and_export  # noqa: E402
from edgeops.config.model import BudgetSpec, ModelSpec, ThresholdRule  # noqa: E402
from edgeops.evaluation import evaluate_scores  # noqa: E402
from edgeops.progress import NullReporter  # noqa: E402


def split_of(path: Path) -> str:
    h = int(hashlib.sha256(path.read_bytes()).hexdigest()[:8], 16) % 100
    return "train" if h < 70 else "validation" if h < 85 else "test"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--optimize-for", default="latency", choices=["latency", "balanced", "accuracy"]
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--node-hours", type=float, default=0.1)
    ap.add_argument("--warm", type=Path, default=None, help="cache folder to reuse")
    ap.add_argument(
        "--images", type=int, default=0, help="run the CLI on this many generated images"
    )
    args = ap.parse_args()
    if args.images:
        return bench_images(args.images, args.optimize_for)

    from sklearn.linear_model import LogisticRegression

    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone
    from edgeops.backends.local.ml.features import extract_features
    from edgeops.files import sha256_file as file_sha256

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        with zipfile.ZipFile(REPO / "examples/objects/data/objects.zip") as z:
            z.extractall(tmp / "data")
        labels = tuple(sorted(p.name for p in (tmp / "data").iterdir() if p.is_dir()))
        examples = [
            TrainingExample(f, (lab,), split_of(f), image_id=f"{lab}/{f.name}")
            for lab in labels
            for f in sorted((tmp / "data" / lab).iterdir())
        ]
        cache = args.warm or tmp / "cache"
        spec = ModelSpec(
            name="objects",
            dataset="objects",
            optimize_for=args.optimize_for,
            budget=BudgetSpec(node_hours=args.node_hours),
            threshold=ThresholdRule(max_f1=True),
        )
        t0 = time.monotonic()
        outcome = train_and_export(
            examples,
            labels,
            False,
            spec,
            tmp / "out" / "v1",
            version=1,
            dataset_fingerprint="bench",
            reporter=NullReporter(),
            cache_dir=cache,
        )
        wall = time.monotonic() - t0
        ev = outcome.evaluation

        # Linear probe on the same (cached) backbone features, plain views only.
        bb = backbone_for(args.optimize_for)
        path = feature_backbone(bb)

        def feats(split: str) -> tuple[np.ndarray, list[TrainingExample]]:
            rows = [e for e in examples if e.split == split]
            f = extract_features(
                [(e.image_path, file_sha256(e.image_path), ("plain",)) for e in rows],
                bb,
                path,
                cache,
            )
            return np.concatenate(f), rows

        x_tr, tr = feats("train")
        x_te, te = feats("test")
        t = time.monotonic()
        probe = LogisticRegression(max_iter=2000, C=1.0)
        probe.fit(x_tr, [labels.index(e.labels[0]) for e in tr])
        probe_s = time.monotonic() - t
        probs = np.zeros((len(te), len(labels)))
        probs[:, probe.classes_] = probe.predict_proba(x_te)
        probe_ev = evaluate_scores(probs, [e.labels for e in te], labels, multi_label=False)

        card = json.loads((outcome.out_dir / "model_card.json").read_text())
        temperature = card["training"]["calibration"]["temperature"]
        sizes = {
            n: (outcome.out_dir / n).stat().st_size
            for n in ("model_int8.tflite", "model_float32.tflite")
        }
        lat = {n: latency_ms(outcome.out_dir / n) for n in sizes}

    counts = {s: sum(e.split == s for e in examples) for s in ("train", "validation", "test")}
    result = {
        "optimize_for": args.optimize_for,
        "backbone": bb.name,
        "seed": args.seed,
        "images": counts,
        "wall_s": round(wall, 1),
        "estimate_s": estimate_seconds(len(examples), args.optimize_for),
        "timings_s": outcome.timings,
        "stop_reason": outcome.stop_reason,
        "int8_top1": ev.top1_accuracy,
        "int8_au_prc": ev.au_prc,
        "int8_log_loss": ev.log_loss,
        "int8_float_top1_agreement": ev.extra["int8_float_top1_agreement"],
        "probe_top1": probe_ev.top1_accuracy,
        "probe_au_prc": probe_ev.au_prc,
        "probe_log_loss": probe_ev.log_loss,
        "probe_fit_s": round(probe_s, 2),
        "size_bytes": sizes,
        "litert_latency_ms_2threads": {k: round(v, 2) for k, v in lat.items()},
        "threshold_max_f1": outcome.threshold,
        "temperature": temperature,
        "fine_tune_applied": outcome.fine_tune_applied,
        "notes": list(outcome.notes),
    }
    rows = [
        ("backbone", f"{bb.name} ({args.optimize_for})"),
        ("images train/val/test", f"{counts['train']}/{counts['validation']}/{counts['test']}"),
        ("wall time (estimate)", f"{wall:.1f} s ({result['estimate_s']:.0f} s)"),
        *((f"  {k}", f"{v:.1f} s") for k, v in outcome.timings.items()),
        ("stop reason", outcome.stop_reason),
        ("calibration temperature", f"{temperature:g}"),
        *(("note", n) for n in outcome.notes),
        (
            "int8 top-1 / AuPRC / log loss",
            f"{ev.top1_accuracy:.3f} / {ev.au_prc:.3f} / {ev.log_loss:.3f}",
        ),
        (
            "probe top-1 / AuPRC / log loss",
            f"{probe_ev.top1_accuracy:.3f} / {probe_ev.au_prc:.3f} / {probe_ev.log_loss:.3f}",
        ),
        ("int8 vs float32 top-1 agreement", f"{ev.extra['int8_float_top1_agreement']:.3f}"),
        *((f"size {k}", f"{v / 1e6:.2f} MB") for k, v in sizes.items()),
        *((f"LiteRT latency {k} (2 threads)", f"{v:.1f} ms") for k, v in lat.items()),
    ]
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("BENCH " + json.dumps(result, sort_keys=True))
    return 0


def make_images(n: int, out: Path) -> dict[str, int]:
    """``n`` JPEGs in ``out/<label>/``, made from the example's photos in turn: image i is photo
    ``i % 212`` (by label, then name) with a random resized crop, mirror, scale and colour shift
    drawn from a generator seeded by i (the first pass keeps the whole photo)."""
    from PIL import Image, ImageEnhance

    with tempfile.TemporaryDirectory() as src_s:
        src = Path(src_s)
        with zipfile.ZipFile(REPO / "examples/objects/data/objects.zip") as z:
            z.extractall(src)
        photos = sorted(
            (p.parent.name, p) for p in src.glob("*/*") if p.is_file() and p.parent.is_dir()
        )
        counts: dict[str, int] = {}
        for i in range(n):
            label, path = photos[i % len(photos)]
            rng = np.random.default_rng([7, i])
            with Image.open(path) as im:
                img = im.convert("RGB")
            if i >= len(photos):
                w, h = img.size
                area = rng.uniform(0.5, 1.0) * w * h
                ratio = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
                cw = int(min(w, round(np.sqrt(area * ratio))))
                ch = int(min(h, round(np.sqrt(area / ratio))))
                x0 = int(rng.integers(0, w - cw + 1))
                y0 = int(rng.integers(0, h - ch + 1))
                img = img.crop((x0, y0, x0 + cw, y0 + ch))
                if rng.random() < 0.5:
                    img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                side = int(rng.integers(240, 640))
                scale = side / max(img.size)
                img = img.resize(
                    (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                    Image.Resampling.BICUBIC,
                )
                img = ImageEnhance.Color(img).enhance(float(rng.uniform(0.7, 1.3)))
                img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.8, 1.2)))
            dest = out / label / f"{i:05d}.jpg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            img.save(dest, format="JPEG", quality=90)
            counts[label] = counts.get(label, 0) + 1
    return counts


CONFIG = """version: 1
backend:
  local:
    path: .edgeops
datasets:
  objects:
    source:
      folder: data
    split: {{train: 80, validation: 10, test: 10}}
models:
  objects:
    dataset: objects
    optimize_for: {optimize_for}
    budget:
      node_hours: 1.0
      early_stopping: true
    training:
      label_smoothing: {label_smoothing}
    threshold:
      max_f1: true
"""


def floor_seconds(images: list[Path], model: Path, image_size: int) -> float:
    """One pass of every image through the float model: decode + resize + invoke (2 threads)."""
    from edgeops.runtime.images import load_rgb, normalize, to_input
    from edgeops.runtime.litert import LiteRTRunner

    runner = LiteRTRunner(model, num_threads=2)
    runner(np.zeros((image_size, image_size, 3), np.float32))  # allocation, first-run costs
    t = time.monotonic()
    for p in images:
        runner(normalize(to_input(load_rgb(p), image_size)))
    return time.monotonic() - t


def bench_images(n: int, optimize_for: str) -> int:
    from edgeops.backends.local.ml.backbone import backbone_for

    bb = backbone_for(optimize_for)
    runs = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = tmp / "data"
        t = time.monotonic()
        counts = make_images(n, data)
        make_s = time.monotonic() - t
        images = sorted(data.glob("*/*.jpg"))
        machine = tmp / "machine-cache"
        machine.mkdir()
        env = {**os.environ, "EDGEOPS_CACHE_DIR": str(machine), "PYTHONPATH": str(REPO)}

        def repo(name: str) -> Path:
            r = tmp / name
            r.mkdir()
            shutil.copytree(data, r / "data")
            return r

        def apply(r: Path, label_smoothing: float) -> float:
            (r / "edgeops.yaml").write_text(
                CONFIG.format(optimize_for=optimize_for, label_smoothing=label_smoothing)
            )
            t = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "edgeops", "apply", "--auto-approve"],
                cwd=r,
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.monotonic() - t
            if done.returncode != 0:
                raise SystemExit(f"edgeops apply failed:\n{done.stdout}\n{done.stderr}")
            return wall

        def newest_version(r: Path) -> Path:
            cards = sorted(r.glob(".edgeops/**/model_card.json"), key=lambda p: p.stat().st_mtime)
            return cards[-1].parent

        def run(name: str, r: Path, label_smoothing: float) -> None:
            wall = apply(r, label_smoothing)
            version = newest_version(r)
            card = json.loads((version / "model_card.json").read_text())
            # the floor: the float model this run exported, on every image
            floor = floor_seconds(images, version / "model_float32.tflite", bb.image_size)
            runs.append(
                {
                    "run": name,
                    "wall_s": round(wall, 1),
                    "floor_s": round(floor, 1),
                    "ratio": round(wall / floor, 2),
                    "version": card["version"],
                    "timings_s": card.get("timings_s", {}),
                }
            )

        cold = repo("cold")
        run("cold (empty machine cache and repo)", cold, 0.1)
        warm = repo("warm")
        run("cold repo, machine cache warm", warm, 0.1)
        run("head-only retrain (label_smoothing changed)", warm, 0.05)

    width = max(len(r["run"]) for r in runs)
    print(
        f"{n} images ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), made in "
        f"{make_s:.1f} s; {bb.name} ({optimize_for})"
    )
    print(f"{'run':<{width}}  {'wall s':>7}  {'floor s':>7}  {'ratio':>5}  phases (s)")
    for r in runs:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in r["timings_s"].items())
        print(
            f"{r['run']:<{width}}  {r['wall_s']:>7.1f}  {r['floor_s']:>7.1f}  "
            f"{r['ratio']:>5.2f}  {phases}"
        )
    result = {"images": n, "optimize_for": optimize_for, "backbone": bb.name, "runs": runs}
    print("BENCH " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
