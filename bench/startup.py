"""How fast edgeops' light commands start: the wall time of ``edgeops --help``, ``schema``,
``validate`` and a no-change ``plan`` on the example, beside the floor, a bare
``python -c pass``, measured in the same run (alternating, so load hits both alike).

The plan needs a trained example: the first run copies ``examples/objects`` into the work
folder and applies it once (a real training, ~1-2 minutes); later runs reuse it.

Prints a table (median and min of N runs, and the ratio of the median to the floor's) and one
JSON line. Run: ``python bench/startup.py [--runs 15]``. To compare with another checkout, run
it with ``PYTHONPATH=/path/to/that/checkout``: every command is a subprocess of
``python -m edgeops``, imported from ``PYTHONPATH`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "objects"


def run(argv: list[str], cwd: Path, pythonpath: str | None = None) -> float:
    env = {**os.environ, "NO_COLOR": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return elapsed


def trained_example(work: Path) -> Path:
    root = work / "objects"
    marker = root / ".edgeops" / "bench-applied"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".edgeops", "app"))
        print("applying the example once (real training)...", file=sys.stderr)
        run([sys.executable, "-m", "edgeops", "apply", "--auto-approve"], root)
        marker.write_text("")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="runs of each command (15)")
    ap.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "edgeops-bench-startup"
    )
    ap.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="also time the same commands from another checkout of edgeops (e.g. a worktree of "
        "an older commit), alternating with this one, as a before/after in one run",
    )
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    example = trained_example(args.dir)
    edgeops = [sys.executable, "-m", "edgeops"]
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "edgeops --help": [*edgeops, "--help"],
        "edgeops schema": [*edgeops, "schema"],
        "edgeops validate": [*edgeops, "validate"],
        "edgeops plan (no changes)": [*edgeops, "plan"],
    }
    variants = [("", None)] + ([(" [against]", args.against)] if args.against else [])
    times: dict[str, list[float]] = {name + tag: [] for name in commands for tag, _ in variants}
    for argv in commands.values():
        for _, path in variants:
            run(argv, example, path)  # warm the page cache and .pyc files
    for _ in range(args.runs):
        for name, argv in commands.items():
            for tag, path in variants:
                if tag and name.startswith("python"):
                    continue
                times[name + tag].append(run(argv, example, path))
    times = {name: ts for name, ts in times.items() if ts}

    floor = statistics.median(times["python -c pass (floor)"])
    rows = [
        {
            "command": name,
            "median_s": round(statistics.median(ts), 4),
            "min_s": round(min(ts), 4),
            "vs_floor": round(statistics.median(ts) / floor, 2),
        }
        for name, ts in times.items()
    ]
    load = os.getloadavg()[0]
    print(
        f"edgeops startup on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.runs} runs each, load average {load:.1f}"
    )
    print(f"{'command':<38}{'median s':>10}{'min s':>10}{'x floor':>10}")
    for r in rows:
        print(f"{r['command']:<38}{r['median_s']:>10.3f}{r['min_s']:>10.3f}{r['vs_floor']:>10.2f}")
    print(json.dumps({"bench": "startup", "cpus": os.cpu_count(), "load": load, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
