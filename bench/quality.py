"""Model quality of the local trainer on held-out images it never sees, per optimize_for.

    python bench/quality.py [--sets objects,digits] [--optimize-for latency,balanced,accuracy]
        [--seed 0] [--train 1000 --eval 2000] [--node-hours 0.5] [--hparams-json JSON|FILE]
        [--cache DIR] [--out FILE]

Sets (each split seeded and stratified by label; the held-out images are never given to the
trainer, not even as its test split):

- ``objects``: examples/objects/data/objects.zip (212 photos, 6 labels): 60% train, 15%
  validation, 25% held out.
- ``digits``: bench/data/digits/digits.png (OpenCV's 5,000 handwritten 20x20 digits, 500 per
  digit) cut into PNGs: ``--train`` images (a fifth of them the validation split) and ``--eval``
  held-out images, disjoint. A domain far from ImageNet.

The trainer (``train_and_export``, as ``edgeops apply`` runs it) gets train, validation and, as
its test split, copies of a few validation images (it needs one; its own evaluation is ignored
here). Then, on the held-out images: top-1 of the int8 model run by MediaPipe's ImageClassifier
(the labels from the model's metadata, all results, top-1 = argmax), top-1 of the float32 model
in LiteRT, and a linear probe (scikit-learn LogisticRegression on frozen EfficientNet-Lite0
features of the plain views of train+validation), each with its 95% Wilson interval; paired
comparisons on the same held-out images (difference in top-1 and the exact McNemar p) of each
optimize_for's int8 model against ``latency``'s and against the probe; training wall time, model
sizes and LiteRT latency (2 threads).

``--hparams-json`` overrides :class:`HParams` fields, e.g. ``'{"epochs": 300}'`` for every
optimize_for, or ``'{"accuracy": {"fine_tune_blocks": 4}}'`` per optimize_for (JSON text or a
.json file). The backbones are converted before the timed trainings (reported apart), so every
row's wall time is features + head + calibration + fine-tuning + export + evaluation.

Prints one table and a ``BENCH {json}`` line; ``--out`` also writes the JSON, and ``--show
FILE`` prints the table of such a JSON again (no run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OBJECTS_ZIP = REPO / "examples/objects/data/objects.zip"
DIGITS_PNG = REPO / "bench/data/digits/digits.png"
FAMILIES = ("latency", "balanced", "accuracy")
SETS = ("objects", "digits")
DIGIT_CELL = 20  # pixels
DIGIT_ROWS, DIGIT_COLS = 50, 100  # cells; 5 rows per digit, 0 first
OBJECTS_SHARES = (0.60, 0.15)  # train, validation; the rest is held out
DIGITS_VALIDATION_SHARE = 0.2  # of --train
TEST_COPIES_PER_LABEL = 6  # validation images the trainer also gets as its test split


class BenchError(Exception):
    """Bad input: printed as one line, exit 1."""


@dataclass(frozen=True)
class Item:
    path: Path
    label: str


@dataclass(frozen=True)
class HeldOutSet:
    name: str
    labels: tuple[str, ...]
    train: tuple[Item, ...]
    validation: tuple[Item, ...]
    held_out: tuple[Item, ...]


# ---- the sets ---------------------------------------------------------------------------------


def cut_digits(png: Path, out_dir: Path) -> list[Item]:
    """OpenCV's digits.png cut into one 20x20 grayscale PNG per cell (``<digit>/r<row>c<col>.png``,
    5,000 of them, 500 per digit: rows 0-4 are 0s, rows 5-9 1s, ...), in row-major order."""
    from PIL import Image

    with Image.open(png) as im:
        sheet = im.convert("L")
    want = (DIGIT_COLS * DIGIT_CELL, DIGIT_ROWS * DIGIT_CELL)
    if sheet.size != want:
        raise BenchError(f"{png}: {sheet.size[0]}x{sheet.size[1]} pixels, expected {want}")
    items = []
    for r in range(DIGIT_ROWS):
        label = str(r // (DIGIT_ROWS // 10))
        folder = out_dir / label
        folder.mkdir(parents=True, exist_ok=True)
        for c in range(DIGIT_COLS):
            box = (c * DIGIT_CELL, r * DIGIT_CELL, (c + 1) * DIGIT_CELL, (r + 1) * DIGIT_CELL)
            path = folder / f"r{r:02d}c{c:02d}.png"
            sheet.crop(box).save(path)
            items.append(Item(path, label))
    return items


def _by_label(items: Sequence[Item]) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {}
    for it in items:
        out.setdefault(it.label, []).append(it)
    return {k: sorted(v, key=lambda i: str(i.path)) for k, v in sorted(out.items())}


def _shuffled(items: list[Item], seed: int, label: str) -> list[Item]:
    import numpy as np

    rng = np.random.default_rng([seed, *label.encode()])
    return [items[i] for i in rng.permutation(len(items))]


def check_digit_counts(n_train: int, n_eval: int, k: int = 10, per_label: int = 500) -> int:
    """Validation images per digit for ``--train``/``--eval``; a :class:`BenchError` for counts
    the sheet cannot give (stratified: multiples of ``k``, at most ``per_label`` per digit)."""
    if n_train <= 0 or n_eval <= 0 or n_train % k or n_eval % k:
        raise BenchError(
            f"--train and --eval must be positive multiples of {k} (stratified by digit)"
        )
    if n_train // k + n_eval // k > per_label:
        raise BenchError(
            f"--train {n_train} + --eval {n_eval} need {(n_train + n_eval) // k} images per "
            f"digit; there are {per_label}"
        )
    n_val = round(n_train // k * DIGITS_VALIDATION_SHARE)
    if n_train // k - n_val < 2 or n_val < 1:
        raise BenchError("--train must give every digit 2+ train and 1+ validation images")
    return n_val


def digits_set(items: Sequence[Item], n_train: int, n_eval: int, seed: int) -> HeldOutSet:
    """Per digit, seeded: ``n_train / 10`` train images (a fifth of them validation) and
    ``n_eval / 10`` held-out images, disjoint."""
    groups = _by_label(items)
    k = len(groups)
    n_val = check_digit_counts(n_train, n_eval, k, min(len(v) for v in groups.values()))
    train, val, held = [], [], []
    for label, group in groups.items():
        order = _shuffled(group, seed, label)
        n_tr = n_train // k
        val += order[:n_val]
        train += order[n_val:n_tr]
        held += order[n_tr : n_tr + n_eval // k]
    return HeldOutSet("digits", tuple(groups), tuple(train), tuple(val), tuple(held))


def objects_set(data_dir: Path, seed: int) -> HeldOutSet:
    """The example's photos (one folder per label), per label seeded: 60% train, 15%
    validation, the rest held out."""
    items = [
        Item(f, d.name)
        for d in sorted(data_dir.iterdir())
        if d.is_dir()
        for f in sorted(d.iterdir())
        if f.is_file()
    ]
    train, val, held = [], [], []
    groups = _by_label(items)
    for label, group in groups.items():
        order = _shuffled(group, seed, label)
        n_tr = round(len(order) * OBJECTS_SHARES[0])
        n_val = max(1, round(len(order) * OBJECTS_SHARES[1]))
        train += order[:n_tr]
        val += order[n_tr : n_tr + n_val]
        held += order[n_tr + n_val :]
    return HeldOutSet("objects", tuple(groups), tuple(train), tuple(val), tuple(held))


def trainer_examples(s: HeldOutSet) -> list[Any]:
    """What the trainer gets: train, validation, and as its test split copies of up to
    :data:`TEST_COPIES_PER_LABEL` validation images per label. No held-out image."""
    from edgeops.backends.local.ml import TrainingExample

    def ex(it: Item, split: str) -> Any:
        return TrainingExample(it.path, (it.label,), split, f"{it.label}/{it.path.name}")

    test = [it for g in _by_label(s.validation).values() for it in g[:TEST_COPIES_PER_LABEL]]
    return (
        [ex(it, "train") for it in s.train]
        + [ex(it, "validation") for it in s.validation]
        + [ex(it, "test") for it in test]
    )


# ---- measuring --------------------------------------------------------------------------------

MEDIAPIPE_SCRIPT = """
import json, sys
import numpy as np
import mediapipe as mp
from mediapipe.tasks import python as mpt
from mediapipe.tasks.python import vision
from PIL import Image
model, listing = sys.argv[1], sys.argv[2]
paths = open(listing).read().splitlines()
opts = vision.ImageClassifierOptions(
    base_options=mpt.BaseOptions(model_asset_path=model), max_results=-1)
out = []
with vision.ImageClassifier.create_from_options(opts) as clf:
    for p in paths:
        with Image.open(p) as im:
            rgb = np.ascontiguousarray(np.asarray(im.convert("RGB")))
        r = clf.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        out.append({c.category_name: c.score for c in r.classifications[0].categories})
print("RESULT" + json.dumps(out))
"""


def mediapipe_scores(model: Path, paths: Sequence[Path], labels: Sequence[str], tmp: Path) -> Any:
    """(len(paths), len(labels)) scores of ``model`` run by MediaPipe's ImageClassifier (in a
    child process: MediaPipe and LiteRT each bring their own TFLite runtime)."""
    import numpy as np

    listing = tmp / "mediapipe-paths.txt"
    listing.write_text("\n".join(str(p) for p in paths))
    proc = subprocess.run(
        [sys.executable, "-c", MEDIAPIPE_SCRIPT, str(model), str(listing)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"MediaPipe failed:\n{proc.stderr[-3000:]}")
    rows = json.loads(line[len("RESULT") :])
    scores = np.zeros((len(paths), len(labels)), dtype=np.float64)
    for i, row in enumerate(rows):
        unknown = set(row) - set(labels)
        if unknown:
            raise RuntimeError(f"MediaPipe named labels {sorted(unknown)} not in {list(labels)}")
        for j, lab in enumerate(labels):
            scores[i, j] = row.get(lab, 0.0)
    return scores


def litert_scores(model: Path, paths: Sequence[Path], size: int) -> Any:
    import numpy as np

    from edgeops.runtime.images import load_rgb, to_input
    from edgeops.runtime.litert import LiteRTRunner

    run = LiteRTRunner(model)
    return np.stack([run.scores(to_input(load_rgb(p), size)) for p in paths])


def latency_ms(model: Path, runs: int = 30) -> float:
    import numpy as np

    from edgeops.runtime.litert import LiteRTRunner

    run = LiteRTRunner(model, num_threads=2)
    x = np.full(run.input["shape"][1:], 100, dtype=run.input["dtype"])
    for _ in range(3):
        run(x)
    t = time.perf_counter()
    for _ in range(runs):
        run(x)
    return (time.perf_counter() - t) / runs * 1000


def top1(correct: Sequence[bool]) -> dict[str, Any]:
    from edgeops.evaluation.intervals import wilson

    k, n = int(sum(correct)), len(correct)
    lo, hi = wilson(k, n)
    return {"value": k / n if n else 0.0, "lo": lo, "hi": hi, "k": k, "n": n}


def paired(a: Sequence[bool], b: Sequence[bool]) -> dict[str, Any]:
    """``a`` vs ``b`` on the same images: difference in top-1 and the exact McNemar p
    (``a_only``: images only ``a`` gets right)."""
    from edgeops.evaluation.intervals import mcnemar_exact

    a_only = sum(x and not y for x, y in zip(a, b, strict=True))
    b_only = sum(y and not x for x, y in zip(a, b, strict=True))
    return {
        "diff": (a_only - b_only) / len(a),
        "a_only": a_only,
        "b_only": b_only,
        "p": mcnemar_exact(a_only, b_only),
    }


def probe_correct(s: HeldOutSet, cache: Path) -> tuple[list[bool], float]:
    """Right/wrong per held-out image of LogisticRegression on frozen Lite0 features (plain
    views) of train+validation; and the seconds it took (features included)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone
    from edgeops.backends.local.ml.features import extract_features
    from edgeops.files import sha256_file

    t = time.monotonic()
    bb = backbone_for("latency")
    model = feature_backbone(bb)

    def feats(items: Sequence[Item]) -> Any:
        jobs = [(it.path, sha256_file(it.path), ("plain",)) for it in items]
        return np.concatenate(extract_features(jobs, bb, model, cache))

    fit = s.train + s.validation
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(feats(fit), [s.labels.index(it.label) for it in fit])
    pred = clf.predict(feats(s.held_out))
    right = [int(p) == s.labels.index(it.label) for p, it in zip(pred, s.held_out, strict=True)]
    return right, time.monotonic() - t


def warm_backbones(families: Sequence[str]) -> dict[str, float]:
    """Converts the feature backbones into the machine cache now, so no row's wall time has it."""
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone

    out = {}
    for fam in dict.fromkeys(("latency", *families)):  # the probe needs Lite0
        t = time.monotonic()
        feature_backbone(backbone_for(fam))
        out[backbone_for(fam).name] = round(time.monotonic() - t, 1)
    return out


def hparams_for(family: str, overrides: dict[str, Any]) -> Any:
    """``HParams.for_optimize_for(family)`` with ``overrides`` (flat, or keyed by family);
    None when nothing is overridden (the trainer then picks exactly as apply does)."""
    from edgeops.backends.local.ml.hparams import HParams

    per = overrides.get(family, {}) if _per_family(overrides) else overrides
    if not per:
        return None
    return dataclasses.replace(HParams.for_optimize_for(family), **per)


def _per_family(overrides: dict[str, Any]) -> bool:
    return bool(overrides) and set(overrides) <= set(FAMILIES)


def parse_hparams(text: str | None) -> dict[str, Any]:
    from edgeops.backends.local.ml.hparams import HParams

    if not text:
        return {}
    source = Path(text)
    raw = source.read_text() if text.endswith(".json") and source.is_file() else text
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BenchError(f"--hparams-json: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise BenchError("--hparams-json: expected a JSON object of HParams fields")
    fields = {f.name: f for f in dataclasses.fields(HParams)}
    groups = data.values() if _per_family(data) else [data]
    for group in groups:
        if not isinstance(group, dict):
            raise BenchError("--hparams-json: each optimize_for needs an object of fields")
        unknown = sorted(set(group) - set(fields))
        if unknown:
            raise BenchError(
                f"--hparams-json: unknown HParams field(s) {unknown}; known: {sorted(fields)}"
            )
        for name, value in group.items():
            want = type(getattr(HParams(), name))
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or (want is not bool and isinstance(value, bool)):
                raise BenchError(f"--hparams-json: {name} must be {want.__name__}, not {value!r}")
    return data


def run_family(
    s: HeldOutSet,
    family: str,
    args: argparse.Namespace,
    overrides: dict[str, Any],
    cache: Path,
    tmp: Path,
) -> dict[str, Any]:
    import numpy as np

    from edgeops.backends.local.ml import train_and_export
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.config.model import BudgetSpec, ModelSpec, ThresholdRule, TrainingOptions
    from edgeops.progress import NullReporter

    spec = ModelSpec(
        name=s.name,
        dataset=s.name,
        optimize_for=family,  # type: ignore[arg-type]
        budget=BudgetSpec(node_hours=args.node_hours),
        threshold=ThresholdRule(max_f1=True),
        training=TrainingOptions(seed=args.seed),
    )
    hp = hparams_for(family, overrides)
    t0 = time.monotonic()
    outcome = train_and_export(
        trainer_examples(s),
        s.labels,
        False,
        spec,
        tmp / "out" / s.name / family,
        version=1,
        dataset_fingerprint=f"bench-quality-{s.name}",
        reporter=NullReporter(),
        cache_dir=cache,
        hparams=hp,
    )
    wall = time.monotonic() - t0
    out = outcome.out_dir
    paths = [it.path for it in s.held_out]
    truth = np.array([s.labels.index(it.label) for it in s.held_out])
    mp_scores = mediapipe_scores(out / "model_int8.tflite", paths, s.labels, tmp)
    fl_scores = litert_scores(out / "model_float32.tflite", paths, backbone_for(family).image_size)
    int8_right = (np.argmax(mp_scores, axis=1) == truth).tolist()
    float_right = (np.argmax(fl_scores, axis=1) == truth).tolist()
    models = {"int8": out / "model_int8.tflite", "float32": out / "model_float32.tflite"}
    return {
        "set": s.name,
        "optimize_for": family,
        "backbone": backbone_for(family).name,
        "hparams_overrides": dataclasses.asdict(hp) if hp is not None else None,
        "wall_s": round(wall, 1),
        "timings_s": outcome.timings,
        "stop_reason": outcome.stop_reason,
        "fine_tune_applied": outcome.fine_tune_applied,
        "notes": list(outcome.notes),
        "int8_top1": top1(int8_right),
        "float_top1": top1(float_right),
        "int8_vs_float": paired(int8_right, float_right),
        "size_bytes": {k: p.stat().st_size for k, p in models.items()},
        "litert_latency_ms_2threads": {k: round(latency_ms(p), 2) for k, p in models.items()},
        "_int8_right": int8_right,
    }


# ---- output -----------------------------------------------------------------------------------


def _ci(t: dict[str, Any]) -> str:
    return f"{t['value']:.3f} [{t['lo']:.3f}–{t['hi']:.3f}]"


def _vs(c: dict[str, Any] | None) -> str:
    return "—" if c is None else f"{c['diff']:+.3f} (p={c['p']:.3g})"


def table(rows: Sequence[dict[str, Any]], sets: dict[str, dict[str, Any]]) -> str:
    head = (
        "set",
        "optimize_for",
        "train/val/eval",
        "int8 top-1 (MediaPipe) [95% CI]",
        "float top-1 [95% CI]",
        "probe [95% CI]",
        "Δ vs latency (p)",
        "Δ vs probe (p)",
        "int8−float (p)",
        "wall s",
        "int8/float MB",
        "ms int8/float",
    )
    body = []
    for r in rows:
        n = sets[r["set"]]["images"]
        lat = r["litert_latency_ms_2threads"]
        body.append(
            (
                r["set"],
                r["optimize_for"] + (" +ft" if r["fine_tune_applied"] else ""),
                f"{n['train']}/{n['validation']}/{n['held_out']}",
                _ci(r["int8_top1"]),
                _ci(r["float_top1"]),
                _ci(sets[r["set"]]["probe_top1"]),
                _vs(r.get("vs_latency")),
                _vs(r["vs_probe"]),
                _vs(r["int8_vs_float"]),
                f"{r['wall_s']:.0f}",
                f"{r['size_bytes']['int8'] / 1e6:.1f}/{r['size_bytes']['float32'] / 1e6:.1f}",
                f"{lat['int8']:.0f}/{lat['float32']:.0f}",
            )
        )
    widths = [max(len(str(x[i])) for x in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(f"{c:<{w}}" for c, w in zip(line, widths, strict=True)) for line in body]
    top = "  ".join(f"{c:<{w}}" for c, w in zip(head, widths, strict=True))
    return "\n".join([top, "-" * len(top), *lines, *LEGEND])


LEGEND = (
    "top-1 on the held-out images with its 95% Wilson interval; probe: LogisticRegression on "
    "frozen Lite0 features of train+validation;",
    "Δ: int8 top-1 minus the other's on the same images, p: exact McNemar; +ft: fine-tuned; "
    "wall: train_and_export (backbones converted before); ms: LiteRT, 2 threads.",
)


def _list(text: str, known: Sequence[str], option: str) -> list[str]:
    got = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in got if x not in known]
    if bad or not got:
        raise BenchError(f"{option}: {bad or text!r} not among {', '.join(known)}")
    return list(dict.fromkeys(got))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--optimize-for", default=",".join(FAMILIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", type=int, default=1000, help="digits: train+validation images")
    ap.add_argument("--eval", type=int, default=2000, help="digits: held-out images")
    ap.add_argument("--node-hours", type=float, default=0.5)
    ap.add_argument("--hparams-json", default=None, help="HParams overrides (JSON or .json file)")
    ap.add_argument("--cache", type=Path, default=None, help="cache folder reused between runs")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument(
        "--show", type=Path, default=None, help="print the table of a JSON --out wrote; no run"
    )
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show is not None:
        try:
            saved = json.loads(args.show.read_text())
            print(table(saved["rows"], saved["sets"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(
                f"error: --show {args.show}: not a JSON that --out wrote ({e!r})", file=sys.stderr
            )
            return 1
        return 0
    try:
        sets = _list(args.sets, SETS, "--sets")
        families = _list(args.optimize_for, FAMILIES, "--optimize-for")
        overrides = parse_hparams(args.hparams_json)
        if "digits" in sets:
            check_digit_counts(args.train, args.eval)
        if args.node_hours <= 0:
            raise BenchError("--node-hours must be positive")
        for need in [OBJECTS_ZIP] * ("objects" in sets) + [DIGITS_PNG] * ("digits" in sets):
            if not need.is_file():
                raise BenchError(f"{need} is missing")
        with tempfile.TemporaryDirectory(prefix="edgeops-quality-") as tmp_s:
            result = run(args, sets, families, overrides, Path(tmp_s))
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(table(result["rows"], result["sets"]))
    print("BENCH " + json.dumps(result, sort_keys=True))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


def run(
    args: argparse.Namespace,
    sets: Sequence[str],
    families: Sequence[str],
    overrides: dict[str, Any],
    tmp: Path,
) -> dict[str, Any]:
    root = (args.cache or tmp / "cache").resolve()
    cache = root / "trainer"
    os.environ["EDGEOPS_CACHE_DIR"] = str(root / "machine")  # throughput records stay here
    warm = warm_backbones(families)
    rows: list[dict[str, Any]] = []
    per_set: dict[str, dict[str, Any]] = {}
    for name in sets:
        if name == "digits":
            items = cut_digits(DIGITS_PNG, tmp / "digits")
            s = digits_set(items, args.train, args.eval, args.seed)
        else:
            with zipfile.ZipFile(OBJECTS_ZIP) as z:
                z.extractall(tmp / "objects")
            s = objects_set(tmp / "objects", args.seed)
        probe_right, probe_s = probe_correct(s, cache)
        per_set[name] = {
            "labels": list(s.labels),
            "images": {
                "train": len(s.train),
                "validation": len(s.validation),
                "held_out": len(s.held_out),
            },
            "probe_top1": top1(probe_right),
            "probe_s": round(probe_s, 1),
        }
        by_family = {}
        for fam in families:
            print(f"[{time.strftime('%H:%M:%S')}] training {name} {fam}", file=sys.stderr)
            r = run_family(s, fam, args, overrides, cache, tmp)
            by_family[fam] = r
            r["vs_probe"] = paired(r["_int8_right"], probe_right)
            rows.append(r)
        for fam, r in by_family.items():
            if fam != "latency" and "latency" in by_family:
                r["vs_latency"] = paired(r["_int8_right"], by_family["latency"]["_int8_right"])
        for r in by_family.values():
            print(table([r], per_set), file=sys.stderr)
    for r in rows:
        del r["_int8_right"]
    return {
        "seed": args.seed,
        "node_hours": args.node_hours,
        "hparams_json": overrides,
        "backbone_conversion_s": warm,
        "sets": per_set,
        "rows": rows,
    }


if __name__ == "__main__":
    raise SystemExit(main())
