"""Plant label errors and split leakage in the example's real photos; measure what inspect finds.

Builds a folder dataset from examples/objects/data/objects.zip in a temp dir, moves a known 10%
of the images to another label's folder (flipped labels) and copies a few test-split images,
resized and re-encoded, into train (near duplicates straddling the split); runs
``edgeops inspect`` (the local backend's real frozen backbone) and prints one JSON line:
precision@k of the suspected label errors for the flips (k = number of flips), recall of the
planted near-duplicate pairs, and the same figures for a random ranking in the same run.

    python bench/label_errors.py [--seed 0] [--flip 0.1] [--copies 8]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "objects" / "data" / "objects.zip"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flip", type=float, default=0.1)
    ap.add_argument("--copies", type=int, default=8)
    args = ap.parse_args()

    from PIL import Image

    from edgeops.backends import get_backend
    from edgeops.config.loader import load_config
    from edgeops.config.model import SplitSpec
    from edgeops.datasets.images import sha256_hex
    from edgeops.datasets.split import hash_split
    from edgeops.health.report import inspect_dataset
    from edgeops.progress import NullReporter
    from edgeops.resolve import cache_path

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="edgeops-bench-labels-"))
    data = tmp / "data" / "objects"
    members: list[tuple[str, str, bytes]] = []  # (label, name, bytes)
    with zipfile.ZipFile(EXAMPLE) as zf:
        for name in zf.namelist():
            if not name.endswith("/") and name.count("/") == 1:
                label, file = name.split("/")
                members.append((label, file, zf.read(name)))
    labels = sorted({m[0] for m in members})
    flips = set(rng.sample(range(len(members)), round(args.flip * len(members))))
    flipped: set[str] = set()
    for i, (label, file, raw) in enumerate(members):
        if i in flips:
            label = rng.choice([x for x in labels if x != label])
            flipped.add(f"{label}/{file}")
        (data / label).mkdir(parents=True, exist_ok=True)
        (data / label / file).write_bytes(raw)

    split = SplitSpec()
    tests = [
        (label, file, raw)
        for i, (label, file, raw) in enumerate(members)
        if i not in flips and hash_split(sha256_hex(raw), split) == "test"
    ]
    planted: list[tuple[str, str]] = []
    for label, file, raw in rng.sample(tests, min(args.copies, len(tests))):
        with Image.open(io.BytesIO(raw)) as im:
            im = im.convert("RGB")
            w, h = im.size
            small = im.resize((max(1, int(w * 0.8)), max(1, int(h * 0.8))))
        for quality in range(85, 60, -1):  # re-encode until the copy's hash puts it in train
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=quality)
            if hash_split(sha256_hex(buf.getvalue()), split) == "train":
                copy = f"{label}/copy_{Path(file).stem}.jpg"
                (data / copy).write_bytes(buf.getvalue())
                planted.append((f"{label}/{file}", copy))
                break

    (tmp / "edgeops.yaml").write_text(
        "version: 1\ndatasets:\n  objects:\n    source: {folder: data/objects}\n"
    )
    config = load_config(tmp / "edgeops.yaml")
    started = time.perf_counter()
    doc = inspect_dataset(
        config.dataset("objects"),
        root=config.root,
        cache_path=cache_path(config),
        backend=get_backend(config),
        reporter=NullReporter(),
    )
    seconds = time.perf_counter() - started

    k = len(flipped)
    ranked = [e["path"] for e in doc["suspected_label_errors"]]
    every = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
    shuffled = every[:]
    random.Random(args.seed + 1).shuffle(shuffled)

    def precision_at(order: list[str]) -> float:
        return sum(p in flipped for p in order[:k]) / k if k else 0.0

    groups = [{im["path"] for im in g["images"]} for g in doc["near_duplicates"]]
    found = sum(any({a, b} <= g for g in groups) for a, b in planted)
    straddling = sum(
        any({a, b} <= {im["path"] for im in g["images"]} for a, b in planted)
        for g in doc["near_duplicates"]
        if g["straddles_splits"]
    )
    rnd_groups = [set(rng.sample(every, 2)) for _ in groups]
    rnd_found = sum(any({a, b} <= g for g in rnd_groups) for a, b in planted)
    print(
        json.dumps(
            {
                "bench": "label_errors",
                "images": len(every),
                "flipped": k,
                "suspected": len(ranked),
                "precision_at_k": round(precision_at(ranked), 3),
                "precision_at_k_random": round(precision_at(shuffled), 3),
                "recall_flips_in_suspected": round(len(flipped & set(ranked)) / k, 3) if k else 0,
                "planted_near_duplicates": len(planted),
                "near_duplicate_recall": round(found / len(planted), 3) if planted else 0,
                "near_duplicate_recall_random": round(rnd_found / len(planted), 3)
                if planted
                else 0,
                "planted_found_straddling": straddling,
                "near_duplicate_groups": len(groups),
                "threshold": doc["features"]["near_duplicate_similarity"],
                "seconds": round(seconds, 1),
            }
        )
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
