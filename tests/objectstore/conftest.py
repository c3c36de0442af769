"""The same stores every test runs against: a folder, S3 (moto in server mode, through boto3)
and Cloud Storage (fake-gcs-server, through google-cloud-storage), each on 127.0.0.1 with a
fresh bucket per test. Credentials are test values set here, never the machine's."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgeops.objectstore import ObjectStore, open_store

PREFIX = "team/state"
MakeStore = Callable[..., ObjectStore]


def new_bucket() -> str:
    return f"edgeops-test-{uuid.uuid4().hex[:12]}"


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
    server = make_server("127.0.0.1", 0, app, threaded=False)
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


@pytest.fixture(params=["folder", "s3", "gcs"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    """``make_store(page_size=N)``: a new store object (a new client: a second machine) on this
    test's one location."""
    kind = request.param
    if kind == "folder":
        url, endpoint = str(tmp_path / "state"), None
    elif kind == "s3":
        url = f"s3://{request.getfixturevalue('s3_bucket')}/{PREFIX}"
        endpoint = request.getfixturevalue("s3_endpoint")
    else:
        url, endpoint = f"gs://{request.getfixturevalue('gcs_bucket')}/{PREFIX}", None

    def make(page_size: int | None = None) -> ObjectStore:
        store = open_store(url, endpoint_url=endpoint)
        if page_size is not None and hasattr(store, "page_size"):
            store.page_size = page_size
        return store

    return make


@pytest.fixture
def store(make_store: MakeStore) -> ObjectStore:
    return make_store()
