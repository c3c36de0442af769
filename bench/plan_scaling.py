"""How dataset scanning (and ``edgeops plan``) scales with the number of images.

Generates folder datasets of small distinct images (32x32 noise, PNG and JPEG, 10 labels) of
1k / 10k / 100k images in a work folder (reused across runs), then measures per size:

- ``stat walk``: a bare ``os.walk`` + ``os.stat`` of the same files: the floor for a warm scan;
- ``sha256``: reading and hashing the same bytes on one thread;
- ``sha+decode``: reading, hashing and decoding every image with Pillow (JPEG at the reduced
  size ``Image.draft`` allows) in a process per core, in chunks: the floor for a cold scan;
- ``scan cold`` / ``scan warm``: ``scan_dataset`` without / with the hash cache;
- ``plan cold`` / ``plan warm``: ``edgeops plan`` on a generated edgeops.yaml with a folder
  source (if the CLI has a ``plan`` command), as a subprocess, without / with the hash cache,
  with the peak RSS of each (``plan_*_mb``).

The ratios (``warm/walk``: plan warm over the stat walk; ``cold/floor``: plan cold over
sha+decode) are what to compare across machines and loads. A cold plan of a large folder leaves
its snapshot (for the next plan) to a detached process and returns: ``snapshot_after_s`` is how
much later that was written, and ``cold+snapshot/floor`` the ratio had the plan waited for it.
The floors and the plans are measured ``--rounds`` times, alternated, and the round with the
median cold ratio is shown (the median warm ratio beside it); the JSON line keeps every round.

The quick measurements keep the best of ``REPEAT`` runs (a shared machine adds only delays).
Prints a table and one JSON line. Run: ``python bench/plan_scaling.py [--sizes 1000,10000]``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgeops.config.model import DatasetSpec, SourceSpec
from edgeops.datasets import deferred, scan_dataset
from edgeops.progress import NullReporter

LABELS = [f"label_{i}" for i in range(10)]
REPEAT = 3  # the quick measurements (stat walk, warm scan and plan) keep their best of this many
ROUNDS = 3  # floors and plans alternated this many times; the median round is reported


def generate(base: Path, n: int) -> Path:
    """``base/n{n}/data/LABEL/*.png|jpg``: n distinct 32x32 images; reused when complete."""
    folder = base / f"n{n}"
    data = folder / "data"
    done = folder / ".complete"
    if done.exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    for label in LABELS:
        (data / label).mkdir(parents=True)
    rng = np.random.default_rng(n)
    for i in range(n):
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        fmt, ext = ("PNG", "png") if i % 2 else ("JPEG", "jpg")
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, format=fmt)
        (data / LABELS[i % len(LABELS)] / f"img{i:06d}.{ext}").write_bytes(buf.getvalue())
    (folder / "edgeops.yaml").write_text(
        "version: 1\n"
        "backend:\n  local:\n    path: .edgeops\n"
        "datasets:\n  bench:\n    source:\n      folder: data\n"
    )
    done.write_text("ok\n")
    return folder


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def stat_walk(data: Path) -> int:
    n = 0
    for dirpath, _, files in os.walk(data):
        for name in files:
            os.stat(os.path.join(dirpath, name))
            n += 1
    return n


def sha_all(data: Path) -> None:
    for dirpath, _, files in os.walk(data):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                hashlib.sha256(f.read()).hexdigest()


def _sha_decode_chunk(paths: list[str]) -> int:
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "JPEG":
                im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    return len(paths)


def sha_decode_all(data: Path) -> int:
    """Read, hash and decode every image, on every core (the cold-scan floor)."""
    paths = [os.path.join(d, name) for d, _, files in os.walk(data) for name in files]
    chunks = [paths[i : i + 256] for i in range(0, len(paths), 256)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return sum(pool.map(_sha_decode_chunk, chunks))


def has_plan_cli() -> bool:
    try:
        out = subprocess.run(
            [sys.executable, "-m", "edgeops", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and " plan " in out.stdout


# Runs its arguments and prints their peak RSS. A child inherits its parent's RSS high-water
# mark across fork and exec (Linux), so ``plan`` is started from this small process rather than
# from the bench, which holds 100k scanned records by then.
PEAK_RSS = (
    "import os, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(f'seconds={time.perf_counter() - t} peak_rss_kb={usage.ru_maxrss}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


# ``edgeops plan`` runs as an installed package does, from compiled bytecode (pip compiles it
# at install): an environment that forbids writing bytecode would add the compilation of every
# module to every run.
PLAN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_package() -> None:
    import compileall

    import edgeops

    compileall.compile_dir(str(Path(edgeops.__file__).parent), quiet=1)


def run_plan(folder: Path) -> tuple[float, int, str, float]:
    """(seconds, exit code, output, peak RSS in MB) of ``edgeops plan`` in ``folder``."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "edgeops", "-C", str(folder)]
        + ["plan"],
        capture_output=True,
        text=True,
        env=PLAN_ENV,
    )
    text, _, last = out.stdout.rpartition("seconds=")
    seconds, _, peak = last.partition(" peak_rss_kb=")
    return float(seconds), out.returncode, (text + out.stderr).strip(), int(peak) / 1024


def wait_for_writers(folder: Path) -> None:
    """Until no detached process writes a snapshot into ``folder``'s caches (see
    ``edgeops/datasets/deferred.py``)."""
    for lock in (folder / ".edgeops").rglob("*.writing"):
        deferred.wait(Path(os.fspath(lock).removesuffix(".writing")))


def scan_once(spec: DatasetSpec, folder: Path, cache: Path) -> int:
    m = scan_dataset(spec, root=folder, cache_path=cache, reporter=NullReporter())
    return len(m.images)


def floors(data: Path) -> tuple[float, float]:
    """(the stat walk, best of REPEAT; sha256 + decode on every core) of ``data``."""
    walk = min(timed(lambda: stat_walk(data)) for _ in range(REPEAT))
    return walk, timed(lambda: sha_decode_all(data))


def measure(base: Path, n: int, cli: bool, n_rounds: int = ROUNDS) -> dict[str, Any]:
    t0 = time.perf_counter()
    folder = generate(base, n)
    gen = time.perf_counter() - t0
    data = folder / "data"
    spec = DatasetSpec("bench", SourceSpec("folder", data))
    cache = folder / ".edgeops" / "bench-cache.sqlite"

    stat_walk(data)  # the OS page cache is warm for every measurement alike
    sha_s = timed(lambda: sha_all(data))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    t = time.perf_counter()
    assert scan_once(spec, folder, cache) == n
    cold_s = time.perf_counter() - t
    warm_s = min(timed(lambda: scan_once(spec, folder, cache)) for _ in range(REPEAT))
    row: dict[str, Any] = {
        "images": n,
        "generate_s": round(gen, 3),
        "sha256_s": round(sha_s, 3),
        "scan_cold_s": round(cold_s, 3),
        "scan_warm_s": round(warm_s, 3),
    }
    if not cli:
        walk_s, floor_s = floors(data)
        row["stat_walk_s"], row["sha_decode_s"] = round(walk_s, 3), round(floor_s, 3)
    else:
        # Rounds alternate the floors and the plans: on a shared machine the speed drifts by
        # more than the differences looked for, so each ratio takes its two figures from the
        # same minute, and the median round is reported (every round's ratios are kept).
        rounds = []
        for _ in range(n_rounds):
            walk, floor = floors(data)
            shutil.rmtree(folder / ".edgeops" / "cache", ignore_errors=True)
            plan_cold, rc, out, cold_mb = run_plan(folder)
            # its snapshot is written by a detached process: how long after the plan it was done
            snapshot_after = timed(lambda: wait_for_writers(folder))
            plan_warm, rc2, out2, warm_mb = min(run_plan(folder) for _ in range(REPEAT))
            rounds.append(
                {
                    "stat_walk_s": round(walk, 3),
                    "sha_decode_s": round(floor, 3),
                    "plan_cold_s": round(plan_cold, 3),
                    "plan_warm_s": round(plan_warm, 3),
                    "plan_cold_mb": round(cold_mb),
                    "plan_warm_mb": round(warm_mb),
                    "warm/walk": round(plan_warm / walk, 2),
                    "cold/floor": round(plan_cold / floor, 2),
                    "snapshot_after_s": round(snapshot_after, 3),
                    "cold+snapshot/floor": round((plan_cold + snapshot_after) / floor, 2),
                }
            )
            if rc not in (0, 2) or rc2 not in (0, 2):
                row["plan_error"] = (out2 or out).splitlines()[-1][:200]
                break
        median = sorted(rounds, key=lambda r: r["cold/floor"])[len(rounds) // 2]
        row.update(median)  # the round with the median cold ratio, its floors with it
        row["warm/walk"] = statistics.median(r["warm/walk"] for r in rounds)
        row["rounds"] = rounds
        row["plan_exit"] = rc2
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "edgeops-bench-plan-scaling"
    )
    ap.add_argument("--no-cli", action="store_true", help="skip the edgeops plan subprocess")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="floors and plans, alternated")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    cli = not args.no_cli and has_plan_cli()
    if cli:
        compile_package()

    rows = [measure(args.dir, n, cli, max(1, args.rounds)) for n in sizes]

    cols = ["images", "stat_walk_s", "scan_warm_s", "sha256_s", "sha_decode_s", "scan_cold_s"]
    if cli:
        cols += ["plan_warm_s", "plan_cold_s", "plan_warm_mb", "plan_cold_mb"]
        cols += ["warm/walk", "cold/floor", "cold+snapshot/floor"]
    load = os.getloadavg()[0]
    print(
        f"edgeops plan scaling on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load:.1f} (other work on the machine inflates every figure)"
    )
    print("  ".join(f"{c:>12}" for c in cols))
    for row in rows:
        print("  ".join(f"{row.get(c, ''):>12}" for c in cols))
    for row in rows:
        if "plan_error" in row:
            print(f"plan failed for {row['images']} images: {row['plan_error']}")
    print(json.dumps({"bench": "plan_scaling", "cpus": os.cpu_count(), "load": load, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
