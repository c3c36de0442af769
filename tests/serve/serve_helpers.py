"""A real `edgeops serve` (uvicorn) on 127.0.0.1 and a small urllib client. The server runs in a
subprocess, started through the CLI, stopped with SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOKEN = "s3cret-token-for-tests"
ONLINE = "objects-online"  # the online target's served name; the registry entry is "objects"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    url: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path
    token: str | None = TOKEN

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> Reply:
        h = dict(headers or {})
        token = self.token if token == "default" else token
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())

    def post_json(self, path: str, payload: Any, **kw: Any) -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.call("POST", path, body, {"Content-Type": "application/json"}, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, *extra: str, token: str | None = TOKEN) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "edgeops", "serve", "--port", str(port), "--no-access-log"]
    if token:
        args += ["--token", token]
    log = root / f"serve-{port}.log"
    with log.open("wb") as f:
        proc = subprocess.Popen([*args, *extra], cwd=root, stdout=f, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", port, root, proc, log, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"edgeops serve exited {proc.returncode}: {log.read_text()}")
        try:
            if server.call("GET", "/healthz").status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("edgeops serve did not answer /healthz within 60 s")


def stop_server(server: Server) -> bool:
    """SIGTERM, as a service manager would. True when uvicorn shut down gracefully (it finishes
    in-flight requests, runs the lifespan shutdown, then re-raises the signal: exit -15)."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            return False
    log = server.log.read_text()
    return server.proc.returncode in (0, -signal.SIGTERM) and "Finished server process" in log


def add_online_target(root: Path, name: str = ONLINE) -> None:
    config = root / "edgeops.yaml"
    text = config.read_text()
    assert text.rstrip().endswith("format: int8"), "the example's publish block moved"
    config.write_text(text.rstrip() + f"\n    online:\n      name: {name}\n")
