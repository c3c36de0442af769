"""Locations and their failures: the URL forms, lazy imports, and one-screen errors naming the
bucket and what to set when credentials are missing or refused or the bucket does not exist."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from buckets import new_bucket

from edgeops.errors import EdgeopsError
from edgeops.objectstore import open_store, parse_url
from edgeops.objectstore.base import StoreURL
from edgeops.objectstore.folder import FolderStore
from edgeops.objectstore.gcs import GCSStore
from edgeops.objectstore.s3 import S3Store

from .conftest import PREFIX

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://team-state/edgeops/prod", StoreURL("s3", "team-state", "edgeops/prod")),
        ("gs://team-state/edgeops/", StoreURL("gs", "team-state", "edgeops")),
        ("s3://team-state", StoreURL("s3", "team-state", "")),
        (".edgeops", StoreURL("file", "", ".edgeops")),
        ("/srv/edgeops", StoreURL("file", "", "/srv/edgeops")),
    ],
)
def test_locations(url: str, expected: StoreURL) -> None:
    assert parse_url(url) == expected
    assert str(expected) == url.rstrip("/") or expected.scheme == "file"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("az://container/state", "unsupported state location"),
        ("s3://ab/state", "'ab' is not a valid bucket name"),
        ("gs://Team_State/x", "'Team_State' is not a valid bucket name"),
    ],
)
def test_bad_locations(url: str, message: str) -> None:
    with pytest.raises(EdgeopsError, match=message):
        parse_url(url)


def test_open_store_picks_the_store_and_imports_no_cloud_library() -> None:
    assert isinstance(open_store("s3://bucket/p", endpoint_url=CLOSED), S3Store)
    assert isinstance(open_store("gs://bucket/p"), GCSStore)
    assert isinstance(open_store(Path("state")), FolderStore)
    with pytest.raises(EdgeopsError, match="endpoint_url"):
        open_store("state", endpoint_url=CLOSED)
    code = (
        "import sys; from edgeops.objectstore import open_store; "
        "open_store('s3://bucket/p'); open_store('gs://bucket/p'); "
        "print(sorted(m for m in ('boto3', 'botocore', 'google.cloud.storage') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- S3 --------------------------------------------------------------------------------------


def test_s3_without_credentials(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_store(f"s3://edgeops-nowhere/{PREFIX}", endpoint_url=CLOSED)
    with pytest.raises(EdgeopsError) as info:
        store.get("registry.json")
    message = str(info.value)
    assert message.startswith(f"s3://edgeops-nowhere/{PREFIX}: no AWS credentials were found")
    for what in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "role-to-assume"):
        assert what in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_s3_unreachable_endpoint(aws_env: None) -> None:
    store = open_store(f"s3://edgeops-nowhere/{PREFIX}", endpoint_url=CLOSED)
    with pytest.raises(EdgeopsError, match=f"cannot reach {CLOSED}"):
        store.list()


@pytest.fixture
def moto_auth(s3_endpoint: str) -> Iterator[None]:
    """moto checks credentials (unknown keys are refused) for the duration of one test."""

    def post(count: str) -> None:
        request = urllib.request.Request(
            f"{s3_endpoint}/moto-api/reset-auth",
            data=count.encode(),
            headers={"Content-Type": "text/plain"},  # else Flask reads it as a form
            method="POST",
        )
        json.loads(urllib.request.urlopen(request, timeout=5).read())

    post("0")
    try:
        yield
    finally:
        post("inf")


def test_s3_refused_credentials(s3_bucket: str, s3_endpoint: str, moto_auth: None) -> None:
    store = open_store(f"s3://{s3_bucket}/{PREFIX}", endpoint_url=s3_endpoint)
    with pytest.raises(EdgeopsError) as info:
        store.get("registry.json")
    message = str(info.value)
    assert message.startswith(f"s3://{s3_bucket}/{PREFIX}: access denied (InvalidAccessKeyId)")
    assert "credentials from the environment (AWS_ACCESS_KEY_ID)" in message
    assert "s3:PutObject" in message and "AWS_PROFILE" in message
    with pytest.raises(EdgeopsError, match="access denied"):
        store.head("registry.json")  # HEAD answers a bare 403


def test_s3_missing_bucket(s3_endpoint: str, aws_env: None) -> None:
    bucket = new_bucket()
    store = open_store(f"s3://{bucket}/{PREFIX}", endpoint_url=s3_endpoint)
    for call in (
        lambda: store.list(),
        lambda: store.get("registry.json"),
        lambda: store.put("registry.json", b"{}"),
    ):
        with pytest.raises(EdgeopsError) as info:
            call()
        assert str(info.value).startswith(f"s3://{bucket}/{PREFIX}: no such bucket at ")
        assert f"aws s3 mb s3://{bucket}" in str(info.value)


# --- Cloud Storage ----------------------------------------------------------------------------


def test_gcs_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.storage")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    store = open_store(f"gs://edgeops-nowhere/{PREFIX}")
    with pytest.raises(EdgeopsError) as info:
        store.get("registry.json")
    message = str(info.value)
    assert message.startswith(f"gs://edgeops-nowhere/{PREFIX}: no Google Cloud credentials")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert "gcloud auth application-default login" in message


def test_gcs_missing_bucket(gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("google.cloud.storage")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    bucket = new_bucket()
    store = open_store(f"gs://{bucket}/{PREFIX}")
    for call in (lambda: store.list(), lambda: store.put("registry.json", b"{}")):
        with pytest.raises(EdgeopsError) as info:
            call()
        assert str(info.value).startswith(f"gs://{bucket}/{PREFIX}: no such bucket")
        assert f"gcloud storage buckets create gs://{bucket}" in str(info.value)
