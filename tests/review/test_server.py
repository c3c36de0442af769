"""The review app over HTTP: state, thumbnails, label changes, and what it refuses."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from edgeops.cli import main
from edgeops.review.app import create_app
from edgeops.review.server import running
from edgeops.review.session import ReviewSession

from .conftest import UNLABELLED, open_review

BASE = "http://127.0.0.1"


@pytest.fixture
def session(labelling_repo: Path) -> ReviewSession:
    return open_review(labelling_repo)


@pytest.fixture
def client(session: ReviewSession) -> TestClient:
    return TestClient(create_app(session), base_url=BASE)


def labels_csv(root: Path) -> str:
    return (root / "data" / "labels.csv").read_text()


def test_state_lists_images_labels_and_counts(client: TestClient) -> None:
    state = client.get("/api/state").json()
    assert state["dataset"] == "critters"
    assert state["labels"] == ["animal", "fish"]
    assert state["labels_file"] == "data/labels.csv"
    assert len(state["images"]) == 30
    assert sorted(im["path"] for im in state["images"] if not im["labels"]) == list(UNLABELLED)
    assert {lbl: sum(c.values()) for lbl, c in state["counts"].items()} == {
        "animal": 12,
        "fish": 12,
    }
    assert state["under_min"] == [] and state["under_recommended"] == ["animal", "fish"]
    assert all("file" not in im for im in state["images"])  # no file system paths leave


def test_page_and_assets_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/review.js" in page.text
    for name in ("review.js", "review.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # every asset is local


def test_thumbnails_are_small_jpegs_by_sha256(client: TestClient) -> None:
    image = client.get("/api/state").json()["images"][0]
    r = client.get(f"/thumb/{image['sha256']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "JPEG" and max(im.size) <= 256
    assert max(image["width"], image["height"]) > 256  # the original is larger


@pytest.mark.parametrize(
    "url",
    [
        "/thumb/../edgeops.yaml",
        "/thumb/..%2F..%2Fedgeops.yaml",
        "/thumb/%2e%2e/%2e%2e/data/labels.csv",
        "/thumb/" + "0" * 64,  # well-formed, not in the dataset
        "/thumb/data%2Fimages%2Ferase_crab.jpg",
        "/static/..%2F..%2Fedgeops.yaml",
        "/static/../problems.py",
        "/static/index.html/../../app.py",
        "/data/images/erase_crab.jpg",
    ],
)
def test_path_traversal_is_refused(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404), url
    assert b"version: 1" not in r.content and b"from __future__" not in r.content


@pytest.mark.parametrize(
    "path", ["../edgeops.yaml", "/etc/passwd", "../../labelling/edgeops.yaml", "nope.jpg"]
)
def test_a_change_names_a_dataset_image(client: TestClient, labelling_repo: Path, path: str):
    before = labels_csv(labelling_repo)
    r = client.post("/api/labels", json={"path": path, "labels": ["fish"], "before": []})
    assert r.status_code == 404
    assert labels_csv(labelling_repo) == before


def test_bad_changes_are_refused(client: TestClient, labelling_repo: Path) -> None:
    before = labels_csv(labelling_repo)
    path = UNLABELLED[0]
    bad = [
        ({"path": path, "labels": ["no spaces"], "before": []}, 400),
        ({"path": path, "labels": ["fish", "animal"], "before": []}, 400),  # single-label
        ({"path": path, "labels": "fish"}, 400),
        ({"path": path, "labels": ["fish"], "before": ["animal"]}, 409),  # stale
    ]
    for body, status in bad:
        r = client.post("/api/labels", json=body)
        assert r.status_code == status, body
        assert r.json()["ok"] is False and r.json()["error"]
    broken = client.post("/api/labels", content=b"{", headers={"content-type": "x"})
    assert broken.status_code == 400
    assert labels_csv(labelling_repo) == before


def test_only_loopback_hosts_and_same_origin_changes(session: ReviewSession) -> None:
    rebound = TestClient(create_app(session), base_url="http://evil.example")
    assert rebound.get("/").status_code == 400
    client = TestClient(create_app(session), base_url=BASE)
    r = client.post(
        "/api/labels",
        json={"path": UNLABELLED[0], "labels": ["fish"], "before": []},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403


def test_a_change_is_written_at_once_in_stable_order(
    client: TestClient, labelling_repo: Path
) -> None:
    before = labels_csv(labelling_repo).splitlines()
    r = client.post("/api/labels", json={"path": "erase_crab.jpg", "labels": ["animal"]})
    assert r.status_code == 200
    after = labels_csv(labelling_repo).splitlines()
    assert sorted(set(after) - set(before)) == ["erase_crab.jpg,animal"]
    assert after[0] == "path,label" and after[1:] == sorted(after[1:])
    state = r.json()["state"]
    assert {im["path"]: im["labels"] for im in state["images"]}["erase_crab.jpg"] == ["animal"]
    assert sum(state["counts"]["animal"].values()) == 13
    # relabel, then unlabel: the row changes, then goes
    client.post("/api/labels", json={"path": "erase_crab.jpg", "labels": ["fish"]})
    assert "erase_crab.jpg,fish" in labels_csv(labelling_repo).splitlines()
    client.post("/api/labels", json={"path": "erase_crab.jpg", "labels": []})
    assert labels_csv(labelling_repo).splitlines() == before
    assert not list((labelling_repo / "data").glob(".labels.csv.*"))  # no temp file left


def test_concurrent_writes_from_two_tabs_are_all_kept(
    session: ReviewSession, labelling_repo: Path
) -> None:
    tabs = [TestClient(create_app(session), base_url=BASE) for _ in range(2)]
    jobs = [(tabs[i % 2], path, "fish" if i % 2 else "animal") for i, path in enumerate(UNLABELLED)]
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def post(tab: TestClient, path: str, label: str) -> None:
        barrier.wait()
        r = tab.post("/api/labels", json={"path": path, "labels": [label], "before": []})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=post, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(jobs)
    rows = labels_csv(labelling_repo).splitlines()
    for _, path, label in jobs:
        assert f"{path},{label}" in rows
    assert len(rows) == 1 + 24 + len(jobs)


def test_the_same_image_from_two_tabs_second_is_refused_not_lost(
    session: ReviewSession, labelling_repo: Path
) -> None:
    a, b = (TestClient(create_app(session), base_url=BASE) for _ in range(2))
    path = UNLABELLED[0]
    assert a.post("/api/labels", json={"path": path, "labels": ["fish"], "before": []}).is_success
    r = b.post("/api/labels", json={"path": path, "labels": ["animal"], "before": []})
    assert r.status_code == 409 and r.json()["current"] == ["fish"]
    assert f"{path},fish" in labels_csv(labelling_repo).splitlines()


def test_real_uvicorn_server_on_loopback(session: ReviewSession, labelling_repo: Path) -> None:
    with running(session) as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=10) as http:
            state = http.get("/api/state").json()
            assert len(state["images"]) == 30
            sha = state["images"][0]["sha256"]
            assert http.get(f"/thumb/{sha}").headers["content-type"] == "image/jpeg"
            assert http.get("/thumb/..%2F..%2Fedgeops.yaml").status_code == 404
            r = http.post("/api/labels", json={"path": UNLABELLED[1], "labels": ["fish"]})
            assert r.status_code == 200
    assert f"{UNLABELLED[1]},fish" in labels_csv(labelling_repo).splitlines()


def test_cli_unknown_dataset_is_a_user_error(
    labelling_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["-C", str(labelling_repo), "review", "--no-browser"]
    assert main([*args, "dataset.nope"]) == 1
    assert "no dataset 'nope' (datasets: dataset.critters)" in capsys.readouterr().err
    assert main([*args, "model.critters"]) == 1
    assert "review works on datasets" in capsys.readouterr().err


def test_a_source_without_an_overrides_file_is_reviewed_read_only(tmp_path: Path) -> None:
    """A folder source (it carries its own labels) opens; a change is refused, naming the
    labels_override key that makes it editable."""
    for label in ("cat", "dog"):
        (tmp_path / "data" / "pets" / label).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i * 40, 90 if label == "cat" else 9, 0)).save(
                tmp_path / "data" / "pets" / label / f"{i}.png"
            )
    (tmp_path / "edgeops.yaml").write_text(
        "version: 1\ndatasets:\n  pets:\n    source:\n      folder: data/pets\n"
    )
    client = TestClient(create_app(open_review(tmp_path, "pets")), base_url=BASE)
    state = client.get("/api/state").json()
    assert state["editable"] is False and state["source_kind"] == "folder"
    paths = [im["path"] for im in state["images"]]
    assert paths == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    r = client.post("/api/labels", json={"path": "cat/0.png", "labels": ["dog"]})
    assert r.status_code == 409
    assert "reads a folder source" in r.json()["error"] and "labels_override" in r.json()["error"]


def test_cli_serves_on_loopback_until_interrupted(labelling_repo: Path) -> None:
    import re
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeops", "review", "dataset.critters", "--port", "0"],
        cwd=labelling_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
        assert match, line
        state = httpx.get(match.group(1) + "api/state", timeout=10).json()
        assert state["dataset"] == "critters" and len(state["images"]) == 30
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=20)
    assert rc == 0, proc.stderr.read() if proc.stderr else ""
