"""Do augmented views still pay when a dataset is large? Measured on handwritten digits.

``bench/data/digits/digits.png`` (Debian ``opencv-doc``'s copy, with its licence): 5,000
20x20 digits in a 2000x1000 image, 500 per digit (digit d fills cell rows 5d..5d+4, 100 cells
a row). For each train size, a per-digit
balanced train set (85% train, 15% validation for early stopping) is drawn from the first 300
cells of each digit, and every model is tested on the same 2,000 held-out digits (the last 200
of each). The head (the local trainer's, on frozen EfficientNet-Lite0 features computed with
LiteRT) is trained on the plain view only, and on every view (plain, mirror, two seeded random
resized crops: ``training.augment``); top-1 with its 95% Wilson interval.

    python bench/views.py [--sizes 100,300,1000] [--digits PATH] [--cache DIR]

Prints a table and one JSON line (prefixed ``BENCH``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from quality import DIGITS_PNG, cut_digits  # noqa: E402  (bench/, beside this script)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,300,1000", help="train sizes (all digits)")
    ap.add_argument("--digits", type=Path, default=DIGITS_PNG)
    ap.add_argument("--cache", type=Path, default=None, help="features cache to reuse")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not args.digits.is_file():
        print(f"error: {args.digits} not found; pass --digits PATH", file=sys.stderr)
        return 1

    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.export import feature_backbone
    from edgeops.backends.local.ml.features import extract_features, view_names
    from edgeops.backends.local.ml.head import train_head
    from edgeops.evaluation.intervals import wilson
    from edgeops.files import sha256_file

    bb = backbone_for("latency")
    views = view_names(True, args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        by_digit: dict[int, list[Path]] = {d: [] for d in range(10)}
        for item in cut_digits(args.digits, tmp / "digits"):  # in image order
            by_digit[int(item.label)].append(item.path)
        cache = args.cache or tmp / "cache"
        tflite = feature_backbone(bb)
        test = [(p, d) for d in range(10) for p in by_digit[d][300:]]
        t = time.monotonic()
        x_test = np.concatenate(
            extract_features([(p, sha256_file(p), ("plain",)) for p, _ in test], bb, tflite, cache)
        )
        test_s = time.monotonic() - t
        y_test = np.array([d for _, d in test])
        for size in sizes:
            per = size // 10
            n_val = max(1, round(per * 0.15))
            tr = [(p, d) for d in range(10) for p in by_digit[d][: per - n_val]]
            va = [(p, d) for d in range(10) for p in by_digit[d][per - n_val : per]]
            t = time.monotonic()
            f_tr = extract_features([(p, sha256_file(p), views) for p, _ in tr], bb, tflite, cache)
            f_va = extract_features(
                [(p, sha256_file(p), ("plain",)) for p, _ in va], bb, tflite, cache
            )
            extract_s = time.monotonic() - t
            eye = np.eye(10, dtype=np.float32)
            x_va, y_va = np.concatenate(f_va), eye[[d for _, d in va]]
            for name, k in (("plain", 1), ("views", len(views))):
                x = np.concatenate([f[:k] for f in f_tr])
                y = np.repeat(eye[[d for _, d in tr]], k, axis=0)
                t = time.monotonic()
                head = train_head(
                    x,
                    y,
                    x_va,
                    y_va,
                    multi_label=False,
                    seed=args.seed,
                    label_smoothing=0.1,
                    early_stopping=True,
                    deadline=time.monotonic() + 3600,
                )
                head_s = time.monotonic() - t
                pred = np.argmax(x_test @ head.weight.T + head.bias, axis=1)
                right = int((pred == y_test).sum())
                lo, hi = wilson(right, len(y_test))
                results.append(
                    {
                        "train": size,
                        "views": name,
                        "views_per_image": k,
                        "top1": round(right / len(y_test), 4),
                        "ci95": [round(lo, 4), round(hi, 4)],
                        "head_s": round(head_s, 1),
                        "extract_s": round(extract_s, 1),
                    }
                )
    print(f"digits: {len(test)} held-out test images (plain view), {test_s:.1f} s to extract")
    print(f"{'train':>6} {'views':>6} {'top-1':>6}  95% interval     head s")
    for r in results:
        lo, hi = r["ci95"]
        print(
            f"{r['train']:>6} {r['views']:>6} {r['top1']:6.3f}  [{lo:.3f}, {hi:.3f}]  "
            f"{r['head_s']:6.1f}"
        )
    print("BENCH " + json.dumps({"dataset": "digits", "results": results}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
