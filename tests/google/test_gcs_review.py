"""``edgeops review`` over a CSV whose rows name gs:// objects (and local files) on the google
backend: the rows are listed with labels and splits, thumbnails are read through the storage
client, a relabel goes to the overrides file keyed by URI and identity key, and `edgeops plan`
counts it; an object deleted or overwritten since the scan is "changed", not a crash.
Against fake-gcs-server."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fakes.vertex import FakeGoogle
from PIL import Image
from starlette.testclient import TestClient

from edgeops import cli
from edgeops.config.loader import load_config
from edgeops.review.app import create_app
from edgeops.review.server import open_session
from edgeops.review.session import LabelChange, ReviewSession

COLOURS = {"cat": (200, 60, 40), "dog": (40, 80, 200)}
PER_LABEL = 12


def jpeg(label: str, n: int) -> bytes:
    r, g, b = COLOURS[label]
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (r, g + 7 * n, b)).save(out, format="JPEG")
    return out.getvalue()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def photos(google: FakeGoogle, tmp_path: Path) -> dict[str, Any]:
    """gs://BUCKET/photos/<label>/<n>.jpg and one local image per label, in one CSV."""
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    root = tmp_path / "repo"
    (root / "local").mkdir(parents=True)
    rows = []
    for label in COLOURS:
        for n in range(PER_LABEL):
            name = f"photos/{label}/{n:02d}.jpg"
            bucket.blob(name).upload_from_string(jpeg(label, n), content_type="image/jpeg")
            rows.append(f"gs://{google.bucket}/{name},{label}")  # type: ignore[attr-defined]
        (root / "local" / f"{label}.jpg").write_bytes(jpeg(label, 30))
        rows.append(f"local/{label}.jpg,{label}")
    (root / "index.csv").write_text("uri,label\n" + "".join(f"{r}\n" for r in rows))
    (root / "edgeops.yaml").write_text(
        "version: 1\n"
        "backend:\n"
        f"  google: {{project: edgeops-demo, location: us-central1, bucket: {google.bucket}}}\n"  # type: ignore[attr-defined]
        "datasets:\n"
        "  photos:\n"
        "    source: {csv: index.csv, labels_override: photos.labels.csv}\n"
    )
    return {"root": root, "config": root / "edgeops.yaml", "bucket": bucket}


def session_of(photos: dict[str, Any]) -> ReviewSession:
    session: ReviewSession = open_session(load_config(photos["config"]), "dataset.photos")
    return session


def uri(google: FakeGoogle, name: str) -> str:
    return f"gs://{google.bucket}/{name}"  # type: ignore[attr-defined]


def test_review_lists_gs_rows_serves_thumbnails_and_relabels_into_the_overrides(
    google: FakeGoogle, photos: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(photos["config"])
    code, out = run(capsys, "apply", "-f", cfg, "--auto-approve")
    assert code == 0, out

    session = session_of(photos)
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    state = client.get("/api/state").json()
    assert state["problems"] == [] and state["rejected"] == [], state
    by_path = {im["path"]: im for im in state["images"]}
    assert len(by_path) == 2 * (PER_LABEL + 1)
    crab = uri(google, "photos/cat/03.jpg")
    assert by_path[crab]["labels"] == ["cat"]
    assert by_path["local/dog.jpg"]["labels"] == ["dog"]  # local rows of the same CSV
    assert all(im["split"] in ("train", "validation", "test") for im in state["images"])
    assert {lbl: sum(c.values()) for lbl, c in state["counts"].items()} == {"cat": 13, "dog": 13}

    for path in (crab, "local/cat.jpg"):
        r = client.get(f"/thumb/{by_path[path]['sha256']}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", path
        with Image.open(io.BytesIO(r.content)) as im:
            assert im.format == "JPEG" and max(im.size) == 256
    assert session.image_bytes(by_path[crab]["sha256"]) == jpeg("cat", 3)

    r = client.post(
        "/api/labels",
        json={"path": crab, "labels": ["dog"], "before": ["cat"]},
        headers={"origin": "http://127.0.0.1"},
    )
    assert r.status_code == 200, r.text
    key = by_path[crab]["sha256"]
    override = (photos["root"] / "photos.labels.csv").read_text()
    assert override == f"image,sha256,label\n{crab},{key[:12]},dog\n"
    assert (photos["root"] / "index.csv").read_text().count(f"{crab},cat") == 1  # not edited
    changed = {im["path"]: im for im in r.json()["state"]["images"]}[crab]
    assert changed["labels"] == ["dog"] and changed["overridden"]

    code, out = run(capsys, "plan", "-f", cfg)
    assert code == 0, out
    assert "dataset.photos" in out and "1 relabelled" in out, out

    # no model suggestions for the google backend: said, not failed
    suggestions = client.get("/api/suggestions").json()
    assert suggestions["available"] is False and "google backend" in suggestions["why"]

    # `edgeops inspect` reads the gs:// rows the same way
    code, out = run(capsys, "inspect", "dataset.photos", "-f", cfg, "--json")
    assert code == 0, out
    health = json.loads(out)
    assert health["images"] == 26 and health["errors"] == [], health
    assert health["labels"]["dog"]["total"] == 14

    # back to the CSV's own label: the row goes
    session.apply(LabelChange(crab, ("cat",), ("dog",)))
    assert (photos["root"] / "photos.labels.csv").read_text() == "image,sha256,label\n"


def test_an_object_deleted_or_overwritten_since_the_scan_is_changed_not_a_crash(
    google: FakeGoogle, photos: dict[str, Any]
) -> None:
    session = session_of(photos)
    client = TestClient(create_app(session), base_url="http://127.0.0.1")
    by_path = {im.path: im for im in session.review.images}
    gone, rewritten = uri(google, "photos/dog/05.jpg"), uri(google, "photos/dog/06.jpg")
    bucket = photos["bucket"]
    bucket.blob("photos/dog/05.jpg").delete()
    bucket.blob("photos/dog/06.jpg").upload_from_string(jpeg("cat", 9), content_type="image/jpeg")

    for path in (gone, rewritten):
        r = client.get(f"/thumb/{by_path[path].sha256}")
        assert r.status_code == 404 and r.json()["error"] == "no such image in this dataset"
        assert session.image_bytes(by_path[path].sha256) is None

    state = client.get("/api/state").json()  # the page reloads: a fresh scan
    paths = {im["path"]: im for im in state["images"]}
    assert gone not in paths and paths[rewritten]["sha256"] != by_path[rewritten].sha256
    assert any(
        p["where"] == "index.csv:20" and "no such object in Cloud Storage" in p["what"]
        for p in state["problems"]
    ), state["problems"]
    r = client.get(f"/thumb/{paths[rewritten]['sha256']}")  # the new object is shown
    assert r.status_code == 200

    # a relabel of the deleted row is refused like any image gone from the source
    r = client.post("/api/labels", json={"path": gone, "labels": ["cat"], "before": ["dog"]})
    assert r.status_code == 404 and not (photos["root"] / "photos.labels.csv").exists()
