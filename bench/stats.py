"""How long the bootstrap intervals take: 2,000 resamples (the default) of synthetic test splits.

Measures, per (images, labels) size, the median of ``--runs`` timings of:

- ``resample``: drawing the (resamples x images) table of draw counts;
- ``auprc``: micro AuPRC over every resample (the vectorised weighted average precision);
- ``auprc loop``: the same through :func:`per_resample` on 50 resamples, scaled to 2,000 (what a
  plain Python loop over resamples would cost);
- ``evaluate``: ``evaluate_scores`` with every interval (AuPRC, log loss, F1 per threshold,
  overall and per label) against ``evaluate_scores(resamples=0)``;
- ``compare``: champion vs candidate with every paired difference.

Scores are softmax-like rows rounded to 1/256 (int8 outputs have ties). Prints a table and one
JSON line. Run: ``python bench/stats.py [--sizes 500x5,500x20,2000x10] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from edgeops.evaluation import metrics
from edgeops.evaluation import stats as S
from edgeops.evaluation.compare import compare


def _table(n: int, labels: int, seed: int) -> tuple[np.ndarray, list[tuple[str]], list[str]]:
    rng = np.random.default_rng(seed)
    names = [f"l{j}" for j in range(labels)]
    truth = rng.integers(0, labels, n)
    logits = rng.normal(size=(n, labels))
    logits[np.arange(n), truth] += 1.5
    p = np.exp(logits)
    p = np.round(p / p.sum(1, keepdims=True) * 256) / 256
    return p, [(names[j],) for j in truth], names


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _measure(n: int, labels: int, runs: int) -> dict[str, float]:
    p, truth, names = _table(n, labels, 0)
    q, _, _ = _table(n, labels, 1)
    y = np.zeros_like(p, dtype=bool)
    for i, (lab,) in enumerate(truth):
        y[i, names.index(lab)] = True
    w = S.resample_counts(n)
    ap_metric = S.average_precision()
    loop = S.per_resample(metrics.average_precision)
    ids = [str(i) for i in range(n)]
    return {
        "images": n,
        "labels": labels,
        "resample": _median(lambda: S.resample_counts(n), runs),
        "auprc": _median(lambda: ap_metric(p, y, w), runs),
        "auprc loop": _median(lambda: loop(p, y, w[:50]), 1) * len(w) / 50,
        "evaluate": _median(
            lambda: metrics.evaluate_scores(p, truth, names, multi_label=False), runs
        ),
        "evaluate bare": _median(
            lambda: metrics.evaluate_scores(p, truth, names, multi_label=False, resamples=0),
            runs,
        ),
        "compare": _median(
            lambda: compare(
                p,
                q,
                truth,
                names,
                multi_label=False,
                champion_threshold=0.5,
                candidate_threshold=0.5,
                image_ids=ids,
            ),
            runs,
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500x5,500x20,2000x10")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for size in args.sizes.split(","):
        n, labels = (int(x) for x in size.split("x"))
        rows.append(_measure(n, labels, args.runs))
    cols = ["resample", "auprc", "auprc loop", "evaluate", "evaluate bare", "compare"]
    print(f"{'images x labels':>16} " + " ".join(f"{c:>14}" for c in cols))
    for r in rows:
        cells = " ".join(f"{r[c]:>13.3f}s" for c in cols)
        print(f"{str(r['images']) + ' x ' + str(r['labels']):>16} {cells}")
    info = {"resamples": S.DEFAULT_RESAMPLES, "machine": platform.machine(), "rows": rows}
    print(json.dumps(info))


if __name__ == "__main__":
    main()
