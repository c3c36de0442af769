"""`edgeops serve` under a bounded load, beside the bare LiteRT interpreter on the same model.

1. Takes a trained example (``--example DIR``, already applied), or copies examples/objects into
   ``--work`` and applies it once (real training, a minute or two; reused by later runs).
2. Measures, in this process, the bare interpreter (``LiteRTRunner``, 1 thread) on the published
   int8 file: ``invoke`` alone, and decode + resize + invoke of a JPEG (the server's work), its
   CPU time per image, and the same work on ``--interpreters`` threads at once: the throughput
   ceiling this run's cores give (on a machine shared with other work, less than cores/p50).
3. Starts ``edgeops serve`` on 127.0.0.1 (a subprocess) and sends predict requests (base64
   JSON, one training photo each) over keep-alive connections: at concurrency 1 from this
   process, in blocks interleaved with blocks of the bare decode + resize + invoke (the p50
   ratio takes both from the same moments: the machine's speed drifts over seconds), then N at
   ``--concurrency`` from a second process (this script with ``--client``).
4. Reads the server's CPU time (``/proc``) around the loaded run: CPU per request, beside the
   bare CPU per image, is the server's overhead whatever else the machine runs. The client
   (raw keep-alive sockets, requests built once) reports its own CPU time too: it shares the
   cores, so the ceiling is also given net of its share (``rps_over_ceiling_left_by_client``).
5. Repeats 2-4 ``--rounds`` times (the floor measured again right before the server each time:
   on a shared machine the floor drifts by more than the differences looked for), and prints
   each round's ratios, a table of the median round, the median ratios, and one JSON line.

Run: ``python bench/serve.py [--requests 200] [--concurrency 4] [--rounds 3] [--example DIR]``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "objects"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def photos(n: int = 6) -> list[bytes]:
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(EXAMPLE / "data" / "objects.zip") as z:
        for name in sorted(z.namelist()):
            label = name.split("/")[0]
            if name.endswith(".jpg") and label not in out:
                out[label] = z.read(name)
    return list(out.values())[:n]


# --- the client process -------------------------------------------------------------------------


def messages_for(port: int, model: str) -> list[bytes]:
    """One predict request per example photo (base64 JSON), whole, ready to send."""
    head = (
        f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
    )
    messages = []
    for photo in photos():
        body = json.dumps({"instances": [{"image": {"b64": base64.b64encode(photo).decode()}}]})
        messages.append(f"{head}Content-Length: {len(body)}\r\n\r\n{body}".encode())
    return messages


def exchange(sock: socket.socket, buf: bytearray, message: bytes) -> bytes:
    """Send one request on a keep-alive socket, read its response by Content-Length; the
    status code."""
    sock.sendall(message)
    while (end := buf.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    header = bytes(buf[:end])
    length = 0
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < end + 4 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    del buf[: end + 4 + length]
    return header.split(b" ", 2)[1]


def client(port: int, model: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Sends the requests from ``concurrency`` threads over keep-alive sockets.

    The requests are built once and the responses read by Content-Length on raw sockets: this
    client shares the machine's cores with the server, so it is kept as cheap as a load
    generator can be in Python (http.client parses every header in Python); its own CPU time
    is reported so the ceiling can be read net of it."""
    messages = messages_for(port, model)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t = time.perf_counter()
            status = exchange(sock, buf, messages[i % len(messages)])
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                if status != b"200":
                    errors.append(status.decode())
        sock.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {
        "requests": requests,
        "concurrency": concurrency,
        "errors": len(errors),
        "wall_s": round(wall, 3),
        "rps": round(requests / wall, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "client_cpu_ms_per_request": round(cpu / requests * 1000, 3),
    }


# --- the driver ---------------------------------------------------------------------------------


def interleaved_c1(
    model_file: Path, port: int, model: str, blocks: int = 10, per_block: int = 8
) -> dict[str, Any]:
    """Concurrency 1 beside its floor, interleaved: ``blocks`` times, ``per_block`` bare decode
    + resize + invoke here, then as many requests to the server, one at a time. A shared
    machine's speed drifts over seconds, by more than the server's overhead: taken block by
    block, both p50s come from the same moments."""
    from edgeops.runtime.litert import LiteRTRunner
    from edgeops.serve.models import decode_image

    runner = LiteRTRunner(model_file.read_bytes(), num_threads=1)
    size = (int(runner.input["shape"][1]), int(runner.input["shape"][2]))
    images = photos()
    messages = messages_for(port, model)
    bare_s: list[float] = []
    served_s: list[float] = []
    errors = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        for i in range(len(images)):  # warm-up of both
            runner.scores(decode_image(images[i], size))
            exchange(sock, buf, messages[i])
        for b in range(blocks):
            for k in range(per_block):
                i = (b * per_block + k) % len(images)
                t = time.perf_counter()
                runner.scores(decode_image(images[i], size))
                bare_s.append(time.perf_counter() - t)
            for k in range(per_block):
                i = (b * per_block + k) % len(images)
                t = time.perf_counter()
                status = exchange(sock, buf, messages[i])
                served_s.append(time.perf_counter() - t)
                errors += status != b"200"
    return {
        "requests": len(served_s),
        "concurrency": 1,
        "errors": errors,
        "rps": round(len(served_s) / sum(served_s), 2),
        "p50_ms": round(percentile(served_s, 50) * 1000, 2),
        "p99_ms": round(percentile(served_s, 99) * 1000, 2),
        "bare_p50_ms": round(percentile(bare_s, 50) * 1000, 2),
    }


def trained_example(work: Path) -> Path:
    root = work / "objects"
    if (root / ".edgeops" / "registry.sqlite").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".edgeops", "app"))
    print(f"training the example in {root} (once; reused next time) ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "edgeops", "apply", "--auto-approve"],
        cwd=root,
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return root


def bare(model_file: Path, iterations: int) -> dict[str, float]:
    import numpy as np

    from edgeops.runtime.litert import LiteRTRunner
    from edgeops.serve.models import decode_image

    runner = LiteRTRunner(model_file.read_bytes(), num_threads=1)
    size = (int(runner.input["shape"][1]), int(runner.input["shape"][2]))
    images = photos()
    pixels = [decode_image(p, size) for p in images]
    for x in pixels:  # warm-up
        runner.scores(x)
    invoke, pipeline = [], []
    for i in range(iterations):
        x = pixels[i % len(pixels)]
        t = time.perf_counter()
        runner.scores(x)
        invoke.append(time.perf_counter() - t)
    cpu = time.process_time()
    for i in range(iterations):
        t = time.perf_counter()
        scores = runner.scores(decode_image(images[i % len(images)], size))
        pipeline.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    assert np.isfinite(scores).all()
    return {
        "decode_invoke_cpu_ms": round(cpu / iterations * 1000, 2),
        "invoke_p50_ms": round(percentile(invoke, 50) * 1000, 2),
        "invoke_p99_ms": round(percentile(invoke, 99) * 1000, 2),
        "invoke_mean_ms": round(statistics.fmean(invoke) * 1000, 2),
        "decode_invoke_p50_ms": round(percentile(pipeline, 50) * 1000, 2),
        "decode_invoke_p99_ms": round(percentile(pipeline, 99) * 1000, 2),
    }


def bare_parallel(model_file: Path, threads: int, per_thread: int) -> float:
    """Images per second of decode + resize + invoke on ``threads`` interpreters at once."""
    from edgeops.runtime.litert import LiteRTRunner
    from edgeops.serve.models import decode_image

    runners = [LiteRTRunner(model_file.read_bytes(), num_threads=1) for _ in range(threads)]
    size = (int(runners[0].input["shape"][1]), int(runners[0].input["shape"][2]))
    images = photos()

    def work(runner: Any) -> None:
        for i in range(per_thread):
            runner.scores(decode_image(images[i % len(images)], size))

    work(runners[0])
    workers = [threading.Thread(target=work, args=(r,)) for r in runners]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * per_thread / (time.perf_counter() - t)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, port: int, interpreters: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeops",
            "serve",
            "--port",
            str(port),
            "--no-access-log",
            "--interpreters",
            str(interpreters),
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("edgeops serve did not start within 60 s")


def run_client(port: int, model: str, requests: int, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            "--port",
            str(port),
            "--model",
            model,
            "--requests",
            str(requests),
            "--concurrency",
            str(concurrency),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="floor + server measurements, alternated")
    ap.add_argument("--interpreters", type=int, default=2, help="edgeops serve --interpreters")
    ap.add_argument("--example", type=Path, help="an applied example (default: train one)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/edgeops-bench-serve"))
    ap.add_argument("--model", default="objects", help="the served name (registry display name)")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(json.dumps(client(args.port, args.model, args.requests, args.concurrency)))
        return

    root = args.example.resolve() if args.example else trained_example(args.work)
    listing = json.loads(
        subprocess.run(
            [sys.executable, "-m", "edgeops", "models", "--json"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    entry = next(e for e in listing["registry"] if e["display_name"] == args.model)
    version = next(
        v for v in listing["models"][f"model.{entry['model']}"] if v["version"] == entry["version"]
    )
    model_file = Path(version["file"])
    cpus = os.cpu_count() or 1
    port = free_port()
    proc = start_server(root, port, args.interpreters)
    rounds: list[dict[str, Any]] = []
    try:
        run_client(port, args.model, 20, args.concurrency)  # warm-up
        # Each round measures the floor right before the server: a machine shared with other
        # work drifts by more than the differences looked for, so a ratio takes its two figures
        # from the same minute, and the rounds' median is reported.
        for _ in range(args.rounds):
            bare_stats = bare(model_file, iterations=100)
            ceiling = bare_parallel(model_file, args.interpreters, per_thread=50)
            serial = interleaved_c1(model_file, port, args.model)
            cpu_before = cpu_seconds(proc.pid)
            loaded = run_client(port, args.model, args.requests, args.concurrency)
            cpu_after = cpu_seconds(proc.pid)
            server_cpu_ms = (
                (cpu_after - cpu_before) / args.requests * 1000
                if cpu_before is not None and cpu_after is not None
                else None
            )
            rounds.append(
                {
                    "bare": bare_stats,
                    "bare_parallel_rps": round(ceiling, 1),
                    "server_cpu_ms_per_request": server_cpu_ms and round(server_cpu_ms, 2),
                    "ratios": round_ratios(
                        bare_stats, ceiling, serial, loaded, server_cpu_ms, cpus
                    ),
                    "serve_c1": serial,
                    "serve": loaded,
                }
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    ratios = {
        k: round(statistics.median(r["ratios"][k] for r in rounds), 2) for k in rounds[0]["ratios"]
    }
    # the table shows the round whose p50 ratio is the median one
    shown = sorted(rounds, key=lambda r: r["ratios"]["p50_c1_over_bare"])[len(rounds) // 2]
    bare_stats, serial, loaded = shown["bare"], shown["serve_c1"], shown["serve"]
    rows = [
        (
            "bare interpreter: invoke (1 thread)",
            bare_stats["invoke_p50_ms"],
            bare_stats["invoke_p99_ms"],
            1000 / bare_stats["invoke_mean_ms"],
        ),
        (
            "bare: decode + resize + invoke",
            bare_stats["decode_invoke_p50_ms"],
            bare_stats["decode_invoke_p99_ms"],
            None,
        ),
        (
            "bare, interleaved with the concurrency-1 requests",
            serial["bare_p50_ms"],
            None,
            None,
        ),
        (
            f"edgeops serve, concurrency 1 ({serial['requests']} req, interleaved)",
            serial["p50_ms"],
            serial["p99_ms"],
            serial["rps"],
        ),
        (
            f"edgeops serve, concurrency {loaded['concurrency']} ({loaded['requests']} req)",
            loaded["p50_ms"],
            loaded["p99_ms"],
            loaded["rps"],
        ),
    ]
    print(
        f"model {args.model} v{entry['version']} ({entry['size'] / 2**20:.1f} MB int8), "
        f"{cpus} CPUs, --interpreters {args.interpreters}, python {platform.python_version()}; "
        f"the median of {len(rounds)} rounds"
    )
    print(f"{'':55} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for name, p50, p99, rps in rows:
        p99_text = "" if p99 is None else f"{p99:8.1f}"
        rps_text = "" if rps is None else f"{rps:8.1f}"
        print(f"{name:55} {p50:8.1f} {p99_text:>8} {rps_text:>8}")
    ceiling = shown["bare_parallel_rps"]
    print(f"{f'bare: {args.interpreters} threads at once':55} {'':8} {'':8} {ceiling:8.1f}")
    for i, r in enumerate(rounds, 1):
        print(f"round {i}: " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items()))
    print(
        f"server CPU per request {shown['server_cpu_ms_per_request'] or 0:.1f} ms (bare decode "
        f"+ resize + invoke: {bare_stats['decode_invoke_cpu_ms']:.1f} ms); median ratios: "
        + ", ".join(f"{k} {v}" for k, v in ratios.items())
        + f"; load average {os.getloadavg()[0]:.1f}"
    )
    errors = sum(r["serve_c1"]["errors"] + r["serve"]["errors"] for r in rounds)
    if errors:
        print(f"errors: {errors}")
    print(
        json.dumps(
            {
                "bench": "serve",
                "model": args.model,
                "version": entry["version"],
                "cpus": cpus,
                "interpreters": args.interpreters,
                "ratios": ratios,
                "load": os.getloadavg()[0],
                "rounds": rounds,
            }
        )
    )


def round_ratios(
    bare_stats: dict[str, float],
    ceiling: float,
    serial: dict[str, Any],
    loaded: dict[str, Any],
    server_cpu_ms: float | None,
    cpus: int,
) -> dict[str, float]:
    ratios = {
        # both from the same blocks of time (interleaved_c1)
        "p50_c1_over_bare": round(serial["p50_ms"] / serial["bare_p50_ms"], 2),
        "rps_over_ceiling": round(loaded["rps"] / ceiling, 2),
        "rps_over_cores": round(
            loaded["rps"] / (cpus * 1000 / bare_stats["decode_invoke_p50_ms"]), 2
        ),
    }
    # The client runs on the same cores: the ceiling left to the server is the bare one less
    # the share of the cores the client's own CPU took during the loaded run.
    client_cores = loaded["client_cpu_ms_per_request"] / 1000 * loaded["rps"]
    left = ceiling * max(0.0, cpus - client_cores) / cpus
    ratios["client_cores"] = round(client_cores, 2)
    ratios["rps_over_ceiling_left_by_client"] = round(loaded["rps"] / left, 2) if left else 0.0
    if server_cpu_ms is not None:
        ratios["server_cpu_over_bare_cpu"] = round(
            server_cpu_ms / bare_stats["decode_invoke_cpu_ms"], 2
        )
    return ratios


if __name__ == "__main__":
    main()
