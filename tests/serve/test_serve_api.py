"""The HTTP API of `edgeops serve`: a real uvicorn on 127.0.0.1, the real trained model."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serve_helpers import ONLINE, Server, start_server, stop_server
from trained_example import EXAMPLE, edgeops, ok

pytestmark = pytest.mark.slow

PREDICT = f"/v1/models/{ONLINE}:predict"
LABELS = ["animal", "fish", "household_object", "monument", "renewable_energy", "tool"]


def photos() -> dict[str, bytes]:
    """One photo per label from the example's training zip: label -> JPEG bytes."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(EXAMPLE / "data" / "objects.zip") as z:
        for name in sorted(z.namelist()):
            label = name.split("/")[0]
            if name.endswith(".jpg") and label not in out:
                out[label] = z.read(name)
    assert sorted(out) == LABELS
    return out


PHOTOS = photos()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def instances(*images: bytes, **parameters: object) -> dict[str, object]:
    body: dict[str, object] = {"instances": [{"image": {"b64": b64(i)}} for i in images]}
    if parameters:
        body["parameters"] = parameters
    return body


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for filename, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def assert_error(reply, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    err = reply.json()["error"]
    assert err["code"] == status
    assert re.search(message, err["message"]), err["message"]


# --- listing, health -------------------------------------------------------------------------


def test_lists_online_and_registry_models(server: Server) -> None:
    r = server.call("GET", "/v1/models")
    assert r.status == 200
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"objects", ONLINE}
    online = models[ONLINE]
    assert online["source"] == "online" and models["objects"]["source"] == "registry"
    assert online["version"] == 1
    assert online["labels"] == LABELS
    assert 0.0 < online["threshold"] < 1.0
    card = json.loads((server.root / "app/src/main/assets/objects.json").read_text())
    assert online["threshold"] == card["threshold"]
    assert len(online["sha256"]) == 64


def test_healthz_needs_no_token(server: Server) -> None:
    r = server.call("GET", "/healthz", token=None)
    assert r.status == 200 and r.json() == {"status": "ok", "models": 2}


# --- predict ---------------------------------------------------------------------------------


def test_predict_base64_top_label_is_the_photos_label(server: Server) -> None:
    labels = list(PHOTOS)
    r = server.post_json(PREDICT, instances(*PHOTOS.values()))
    assert r.status == 200, r.body
    body = r.json()
    assert body["deployedModelId"] == ONLINE and body["modelVersion"] == 1
    preds = body["predictions"]
    assert len(preds) == len(labels)
    for label, p in zip(labels, preds, strict=True):
        assert p["displayNames"][0] == label, (label, p)
        assert p["confidences"] == sorted(p["confidences"], reverse=True)


def test_predict_matches_the_bare_interpreter(server: Server) -> None:
    """The served scores are the published file's, with the training preprocessing."""
    from edgeops.runtime.litert import LiteRTRunner
    from edgeops.serve.models import decode_image

    model = server.call("GET", f"/v1/models/{ONLINE}/download").body
    runner = LiteRTRunner(model, num_threads=1)
    size = int(runner.input["shape"][1])
    photo = PHOTOS["fish"]
    want = runner.scores(decode_image(photo, (size, size)))
    r = server.post_json(PREDICT, instances(photo, score_threshold=0.0))
    p = r.json()["predictions"][0]
    got = dict(zip(p["displayNames"], p["confidences"], strict=True))
    assert len(got) == len(LABELS)
    for i, label in enumerate(LABELS):
        assert got[label] == pytest.approx(float(want[i]), abs=1e-6)


def test_predict_multipart_upload(server: Server) -> None:
    body, ctype = multipart(
        [("tool.jpg", PHOTOS["tool"]), ("monument.jpg", PHOTOS["monument"])],
        {"max_predictions": "1"},
    )
    r = server.call("POST", PREDICT, body, {"Content-Type": ctype})
    assert r.status == 200, r.body
    preds = r.json()["predictions"]
    assert [p["displayNames"] for p in preds] == [["tool"], ["monument"]]


def test_default_threshold_and_override(server: Server) -> None:
    threshold = next(
        m["threshold"]
        for m in server.call("GET", "/v1/models").json()["models"]
        if m["name"] == ONLINE
    )
    photo = PHOTOS["animal"]
    default = server.post_json(PREDICT, instances(photo)).json()["predictions"][0]
    assert default["confidences"] and all(c >= threshold for c in default["confidences"])
    everything = server.post_json(PREDICT, instances(photo, score_threshold=0.0))
    assert len(everything.json()["predictions"][0]["displayNames"]) == len(LABELS)
    assert len(everything.json()["predictions"][0]["displayNames"]) > len(default["displayNames"])
    top2 = server.post_json(PREDICT, instances(photo, score_threshold=0.0, max_predictions=2))
    assert len(top2.json()["predictions"][0]["displayNames"]) == 2
    nothing = server.post_json(PREDICT, instances(photo, score_threshold=1.0))
    assert nothing.json()["predictions"][0]["displayNames"] == []


def test_registry_entry_is_served_too(server: Server) -> None:
    r = server.post_json("/v1/models/objects:predict", instances(PHOTOS["fish"]))
    assert r.status == 200 and r.json()["predictions"][0]["displayNames"][0] == "fish"


def test_concurrent_requests_agree(server: Server) -> None:
    payload = instances(PHOTOS["household_object"], score_threshold=0.0)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: server.post_json(PREDICT, payload), range(16)))
    assert {r.status for r in replies} == {200}
    assert len({json.dumps(r.json()["predictions"]) for r in replies}) == 1


# --- errors: always 4xx JSON, never 500 --------------------------------------------------------


def test_unknown_model_is_404(server: Server) -> None:
    assert_error(server.post_json("/v1/models/nope:predict", instances(b"x")), 404, "'nope'")
    assert_error(server.call("GET", "/v1/models/nope/download"), 404, "no published model")
    assert_error(server.call("GET", "/nowhere"), 404, "no route")


def test_malformed_json_is_400(server: Server) -> None:
    assert_error(server.post_json(PREDICT, b'{"instances": [}'), 400, "not valid JSON")
    assert_error(server.post_json(PREDICT, b"\xff\xfe{}"), 400, "not valid JSON")
    assert_error(server.post_json(PREDICT, b"[" * 200_000), 400, "nested too deeply")
    assert_error(server.post_json(PREDICT, {"images": []}), 400, '"instances"')
    assert_error(server.post_json(PREDICT, {"instances": []}), 400, "no images")
    assert_error(server.post_json(PREDICT, {"instances": [{"img": 1}]}), 400, r"instances\[0\]")
    bad = instances(PHOTOS["fish"], score_threshold=2)
    assert_error(server.post_json(PREDICT, bad), 400, "score_threshold")
    bad = instances(PHOTOS["fish"], max_predictions="many")
    assert_error(server.post_json(PREDICT, bad), 400, "max_predictions")


def test_bad_base64_and_non_image_bytes_are_400(server: Server) -> None:
    r = server.post_json(PREDICT, {"instances": [{"image": {"b64": "not base64!"}}]})
    assert_error(r, 400, r"instances\[0\]\.image\.b64 is not valid base64")
    unpadded = b64(PHOTOS["fish"]).rstrip("=")[:-1]
    r = server.post_json(PREDICT, {"instances": [{"image": {"b64": unpadded}}]})
    assert_error(r, 400, r"instances\[0\]\.image\.b64 is not valid base64")
    r = server.post_json(PREDICT, {"instances": [{"image": {"b64": "é" * 8}}]})
    assert_error(r, 400, r"instances\[0\]\.image\.b64 is not valid base64")
    r = server.post_json(PREDICT, instances(PHOTOS["fish"], b"just some text, not a picture"))
    assert_error(r, 400, r"instances\[1\]: not an image")
    r = server.post_json(PREDICT, instances(PHOTOS["fish"][:2000]))  # a truncated JPEG
    assert_error(r, 400, r"instances\[0\]")
    body, ctype = multipart([("notes.txt", b"hello")], {})
    assert_error(server.call("POST", PREDICT, body, {"Content-Type": ctype}), 400, "notes.txt")


def test_base64_with_line_breaks_and_json_the_stdlib_reads(server: Server) -> None:
    """MIME-wrapped base64 (a line break every 76 characters) is the same image; a body with a
    byte order mark, which orjson refuses, is read as Python's json reads it; NaN is refused."""
    plain = server.post_json(PREDICT, instances(PHOTOS["fish"]))
    assert plain.status == 200
    wrapped = base64.encodebytes(PHOTOS["fish"]).decode()
    assert "\n" in wrapped
    r = server.post_json(PREDICT, {"instances": [{"image": {"b64": wrapped}}]})
    assert r.status == 200 and r.json()["predictions"] == plain.json()["predictions"]
    body = json.dumps({"instances": [{"image": {"b64": b64(PHOTOS["fish"])}, "key": "k"}]})
    r = server.post_json(PREDICT, b"\xef\xbb\xbf" + body.encode())
    assert r.status == 200 and r.json()["predictions"][0]["key"] == "k"
    for constant in ("NaN", "-Infinity", "1e400"):  # not JSON: a key could not be sent back
        bad = body.replace('"k"', constant).encode()
        assert_error(server.post_json(PREDICT, bad), 400, "not valid JSON")


def test_unsupported_content_type_is_415(server: Server) -> None:
    r = server.call("POST", PREDICT, b"\x00", {"Content-Type": "image/jpeg"})
    assert_error(r, 415, "Content-Type image/jpeg")


def _raw(server: Server, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_oversized_body_is_413(server: Server) -> None:
    auth = f"Authorization: Bearer {server.token}\r\n".encode()
    # announced too large: refused before a byte of the body is read
    head = (
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {3 << 20}\r\n"
    ).encode()
    status, body = _raw(server, head + auth + b"\r\n" + b"{" * 1000)
    assert status == 413 and b"limit is 2 MB" in body, body
    # streamed (chunked, no length): refused once it passes the limit
    chunk = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(33)) + b"0\r\n\r\n"
    head = (
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n"
    ).encode()
    status, body = _raw(server, head + auth + b"\r\n" + chunks)
    assert status == 413 and b"larger than the limit of 2 MB" in body, body


def test_wrong_or_missing_token_is_401(server: Server) -> None:
    assert server.token
    for token in (None, "wrong", server.token[:-1], server.token + "x"):
        r = server.call("GET", "/v1/models", token=token)
        assert_error(r, 401, "bearer token")
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = server.post_json(PREDICT, instances(PHOTOS["fish"]), token="wrong")
    assert_error(r, 401, "bearer token")


# --- download ----------------------------------------------------------------------------------


def test_download_with_etag_and_304(server: Server) -> None:
    listed = {m["name"]: m for m in server.call("GET", "/v1/models").json()["models"]}
    sha = listed[ONLINE]["sha256"]
    r = server.call("GET", f"/v1/models/{ONLINE}/download")
    assert r.status == 200
    assert r.headers["etag"] == f'"{sha}"'
    assert hashlib.sha256(r.body).hexdigest() == sha
    assert r.body[4:8] == b"TFL3"  # a TFLite flatbuffer
    assert r.headers["x-model-version"] == "1"
    same = server.call(
        "GET", f"/v1/models/{ONLINE}/download", headers={"If-None-Match": f'"{sha}"'}
    )
    assert same.status == 304 and same.body == b""
    assert same.headers["etag"] == f'"{sha}"'
    stale = server.call("GET", f"/v1/models/{ONLINE}/download", headers={"If-None-Match": '"0"'})
    assert stale.status == 200 and len(stale.body) == len(r.body)
    bundled = (server.root / "app/src/main/assets/objects.tflite").read_bytes()
    reg = server.call("GET", "/v1/models/objects/download")
    assert reg.body == bundled  # registry entry and bundle: the same int8 file of v1


# --- metrics -----------------------------------------------------------------------------------


def _metric(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests(server: Server) -> None:
    key = 'edgeops_http_requests_total{route="/v1/models/{name}:predict",method="POST",'
    before = server.call("GET", "/metrics").body.decode()
    for _ in range(3):
        assert server.post_json(PREDICT, instances(PHOTOS["tool"])).status == 200
    server.post_json("/v1/models/nope:predict", instances(b"x"))
    after = server.call("GET", "/metrics")
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = after.body.decode()
    assert _metric(text, key + 'status="200"}') - _metric(before, key + 'status="200"}') == 3
    assert _metric(text, key + 'status="404"}') - _metric(before, key + 'status="404"}') == 1
    assert _metric(text, "edgeops_models_loaded") >= 1
    count = 'edgeops_http_request_duration_seconds_count{route="/v1/models/{name}:predict"}'
    inf = count.replace("_count{", "_bucket{").replace('"}', '",le="+Inf"}')
    assert _metric(text, count) == _metric(text, inf) >= 4
    assert _metric(text, f'edgeops_predictions_total{{model="{ONLINE}"}}') >= 3


# --- binding rules ------------------------------------------------------------------------------


def test_non_loopback_host_needs_a_token(served_example: Path) -> None:
    r = edgeops(served_example, "serve", "--host", "0.0.0.0", "--port", "1", timeout=60)
    assert r.returncode == 1
    assert "EDGEOPS_SERVE_TOKEN" in r.stderr and "--insecure" in r.stderr


# --- hot reload ---------------------------------------------------------------------------------


def test_new_publish_is_served_without_restart(fresh_example: Path) -> None:
    server = start_server(fresh_example)
    try:
        before = {m["name"]: m for m in server.call("GET", "/v1/models").json()["models"]}
        assert server.post_json(PREDICT, instances(PHOTOS["fish"])).status == 200
        # publish a different file under the same name: the float32 export of v1 (no training)
        config = fresh_example / "edgeops.yaml"
        config.write_text(config.read_text() + "      format: float32\n")
        out = ok(edgeops(fresh_example, "apply", "--auto-approve"))
        assert "0 to train" in out
        after = {m["name"]: m for m in server.call("GET", "/v1/models").json()["models"]}
        assert after[ONLINE]["sha256"] != before[ONLINE]["sha256"]
        r = server.post_json(PREDICT, instances(PHOTOS["fish"]))
        assert r.status == 200 and r.json()["sha256"] == after[ONLINE]["sha256"]
        assert r.json()["predictions"][0]["displayNames"][0] == "fish"
        dl = server.call("GET", f"/v1/models/{ONLINE}/download")
        assert hashlib.sha256(dl.body).hexdigest() == after[ONLINE]["sha256"]
        # unpublish the registry entry: it is no longer served
        text = config.read_text()
        config.write_text(text.replace("[example]", "[example]\n      published: false"))
        ok(edgeops(fresh_example, "apply", "--auto-approve"))
        gone = server.post_json("/v1/models/objects:predict", instances(b"x"))
        assert_error(gone, 404, "objects")
        metrics = server.call("GET", "/metrics").body.decode()
        assert _metric(metrics, "edgeops_model_loads_total") >= 3
    finally:
        assert stop_server(server), server.log.read_text()
