"""A real `mlflow server` on 127.0.0.1 for the mlflow target's tests (tests/conftest.py starts one
per session): a SQLite backend store and artifacts the server proxies into a local folder, as a
team's server would (clients upload through HTTP). MLflow's telemetry is off, in the server and
in every client the tests start; nothing leaves the machine.

Also a server that refuses everything (HTTP 403), for the error paths.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# In the server's environment and the tests' own (CLI subprocesses inherit it).
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",  # errors fast where a test makes them
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
}


@dataclass(frozen=True)
class MlflowServer:
    uri: str
    root: Path  # mlflow.db and artifacts/
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_name(prefix: str = "objects") -> str:
    """A registered model name of its own for one test (the server is shared)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def run_mlflow_server(root: Path) -> Iterator[MlflowServer]:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = root / "server.log"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        (root / "artifacts").as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=root,
            # no job runner (8 more processes, for MLflow's GenAI jobs; the registry needs none)
            env={**os.environ, **QUIET, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are stopped with it
        )
    server = MlflowServer(uri=f"http://127.0.0.1:{port}", root=root, log=log)
    try:
        deadline = time.monotonic() + 120  # creating the SQLite schema takes a few seconds
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{server.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        yield server
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=5)  # uvicorn drains for long otherwise
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


class _Refuse(http.server.BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        body = b'{"error_code": "PERMISSION_DENIED", "message": "no access for you"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def refusing_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers every request with 403 (no credentials)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, name="refusing-mlflow", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
