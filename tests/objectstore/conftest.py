"""The same stores every test runs against: a folder, S3 (moto in server mode, through boto3)
and Cloud Storage (fake-gcs-server, through google-cloud-storage), each on 127.0.0.1 with a
fresh bucket per test. Credentials are test values set here, never the machine's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from edgeops.objectstore import ObjectStore, open_store

PREFIX = "team/state"
MakeStore = Callable[..., ObjectStore]


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
