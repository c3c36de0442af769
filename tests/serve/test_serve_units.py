"""Fast checks of the server's parts (no trained model): binding rules, ETags, metrics text,
image decoding, and a real uvicorn over a backend with nothing published."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from serve_helpers import free_port

from edgeops.config.model import BackendSpec, Config, GoogleBackendSpec, LocalBackendSpec
from edgeops.errors import EdgeopsError
from edgeops.serve import models as served
from edgeops.serve.app import create_app
from edgeops.serve.metrics import Metrics
from edgeops.serve.routes import etag_matches
from edgeops.serve.settings import ServeSettings, is_loopback, settings_for


def local_config(tmp_path: Path) -> Config:
    backend = BackendSpec(kind="local", local=LocalBackendSpec(path=tmp_path / ".edgeops"))
    return Config(path=tmp_path / "edgeops.yaml", version=1, backend=backend)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _settings(config: Config, host: str, token: str | None, insecure: bool) -> ServeSettings:
    return settings_for(
        config, host=host, token=token, insecure=insecure, max_body_mb=20.0, interpreters=2
    )


def test_non_loopback_needs_token_or_insecure(tmp_path: Path) -> None:
    config = local_config(tmp_path)
    with pytest.raises(EdgeopsError, match="EDGEOPS_SERVE_TOKEN"):
        _settings(config, "0.0.0.0", None, False)
    s = _settings(config, "0.0.0.0", "t", False)
    assert s.token == "t" and s.registry_db == tmp_path / ".edgeops" / "registry.sqlite"
    assert _settings(config, "0.0.0.0", None, True).token is None
    s = _settings(config, "127.0.0.1", "", False)
    assert s.token is None and s.max_body_bytes == 20 << 20
    with pytest.raises(EdgeopsError, match="--max-body-mb"):
        settings_for(config, host="127.0.0.1", token=None, insecure=False, max_body_mb=0,
                     interpreters=1)  # fmt: skip


def test_google_backend_is_refused(tmp_path: Path) -> None:
    backend = BackendSpec(kind="google", google=GoogleBackendSpec(project="p"))
    config = Config(path=tmp_path / "edgeops.yaml", version=1, backend=backend)
    with pytest.raises(EdgeopsError, match="local backend"):
        settings_for(config, host="127.0.0.1", token=None, insecure=False, max_body_mb=1,
                     interpreters=1)  # fmt: skip


def test_etag_matching() -> None:
    sha = "ab" * 32
    assert etag_matches(f'"{sha}"', sha)
    assert etag_matches(f'W/"{sha}"', sha)
    assert etag_matches(f'"00", "{sha}"', sha)
    assert etag_matches("*", sha)
    assert not etag_matches("", sha)
    assert not etag_matches('"00"', sha)


def test_metrics_text() -> None:
    m = Metrics()
    m.observe("/v1/models", "GET", 200, 0.003)
    m.observe("/v1/models", "GET", 200, 0.2)
    m.observe('/we"ird', "GET", 404, 20.0)
    m.count_predictions("objects", 3)
    text = m.render({"edgeops_models_loaded": ("Models loaded.", lambda: 2.0)})
    assert 'edgeops_http_requests_total{route="/v1/models",method="GET",status="200"} 2' in text
    assert 'route="/we\\"ird"' in text
    bucket = 'edgeops_http_request_duration_seconds_bucket{route="/v1/models",le='
    assert f'{bucket}"0.005"}} 1' in text and f'{bucket}"0.25"}} 2' in text
    assert f'{bucket}"+Inf"}} 2' in text
    assert 'edgeops_predictions_total{model="objects"} 3' in text
    assert "# TYPE edgeops_models_loaded gauge\nedgeops_models_loaded 2\n" in text


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_decode_image(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = served.decode_image(_png(40, 30), (224, 224))
    assert pixels.shape == (224, 224, 3) and pixels.dtype.name == "uint8"
    assert tuple(pixels[100, 100]) == (10, 200, 30)
    with pytest.raises(served.BadImage, match="not an image"):
        served.decode_image(b"%PDF-1.4 not an image", (224, 224))
    with pytest.raises(served.BadImage, match="damaged or truncated"):
        served.decode_image(_png(400, 300)[:200], (224, 224))
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="TIFF")
    with pytest.raises(served.BadImage, match="TIFF is not accepted"):
        served.decode_image(buf.getvalue(), (224, 224))
    monkeypatch.setattr(served, "MAX_PIXELS", 1000)
    with pytest.raises(served.BadImage, match="40x30 pixels"):
        served.decode_image(_png(40, 30), (224, 224))


@pytest.mark.parametrize("orientation", [None, 1, 3, 6, 8])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_image_gives_the_training_pixels(
    tmp_path: Path, orientation: int | None, fmt: str
) -> None:
    """Served pixels are the trainer's: upright by the EXIF orientation, then resized."""
    import numpy as np

    from edgeops.runtime.images import load_rgb, to_input

    rng = np.random.default_rng(orientation or 0)
    im = Image.fromarray(rng.integers(0, 256, size=(30, 50, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    if orientation is not None:
        exif[served.ORIENTATION] = orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    im.save(path, format=fmt, exif=exif.tobytes())
    served_pixels = served.decode_image(path.read_bytes(), (224, 224))
    assert np.array_equal(served_pixels, to_input(load_rgb(path), 224))
    if orientation in (6, 8):  # turned a quarter: the wide photo stands upright
        assert load_rgb(path).size == (30, 50)


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[str]:
    """A real uvicorn in a thread over a backend folder where nothing was applied yet."""
    import uvicorn

    app = create_app(ServeSettings(registry_db=tmp_path / ".edgeops" / "registry.sqlite"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _get(url: str, data: bytes | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_nothing_published_yet(empty_server: str) -> None:
    assert _get(empty_server + "/healthz") == (200, {"status": "ok", "models": 0})
    assert _get(empty_server + "/v1/models") == (200, {"models": []})
    status, body = _get(empty_server + "/v1/models/objects:predict", b"{}")
    assert status == 404
    assert "none yet: run `edgeops apply`" in body["error"]["message"]
    status, body = _get(empty_server + "/v1/models", b"{}")
    assert status == 405 and body["error"]["status"] == "METHOD_NOT_ALLOWED"


def test_the_catalog_reads_a_registry_file_that_was_replaced(tmp_path: Path) -> None:
    """State in a bucket: serve's working copy of the registry is replaced (renamed over) when
    another machine published; the catalog reads the new file, not the old inode."""
    from edgeops.backends.local.registry import Registry
    from edgeops.files import atomic_write
    from edgeops.serve.models import ModelCatalog

    def registry_with(path: Path, name: str) -> bytes:
        reg = Registry(path)
        entry = {"display_name": name, "model": "m", "version": 1, "tags": [], "published": True,
                 "file": "x.tflite", "sha256": "0" * 64, "size": 1, "threshold": 0.5}  # fmt: skip
        reg.set_publish(f"publish.{name}.registry", "m", "registry", 1, {"display_name": name},
                        {}, registry_entry=entry)  # fmt: skip
        data = reg.db.serialize()
        reg.close()
        return data

    db = tmp_path / "state" / "registry.sqlite"
    atomic_write(db, registry_with(tmp_path / "a.sqlite", "first"))
    catalog = ModelCatalog(db)
    assert set(catalog.published()) == {"first"}
    atomic_write(db, registry_with(tmp_path / "b.sqlite", "second"))
    assert set(catalog.published()) == {"second"}
    catalog.close()
