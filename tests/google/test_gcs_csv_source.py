"""CSV sources whose rows are ``gs://bucket/path.jpg,label`` on the google backend: planned from
object listings (one per folder), imported by reference (no upload), validated with the CSV line,
and a re-uploaded object (new generation) plans an update. Against fake-gcs-server."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fakes.vertex import FakeGoogle

from edgeops import cli
from edgeops.backends import get_backend
from edgeops.backends.google.backend import GoogleBackend
from edgeops.backends.google.gcs_source import GcsRows

LABELS = ("cat", "dog")
PER_LABEL = 12  # AutoML's minimum is 10


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


class CountingClient:
    """The real storage client, counting what the gs:// reader asks of it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.client, name)


@pytest.fixture
def photos(google: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """gs://BUCKET/photos/<label>/<n>.jpg, a CSV listing them, a config using it."""
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    rows = []
    for label in LABELS:
        for n in range(PER_LABEL):
            name = f"photos/{label}/{n:02d}.jpg"
            bucket.blob(name).upload_from_string(
                f"jpeg {label} {n}".encode(), content_type="image/jpeg"
            )
            rows.append([f"gs://{google.bucket}/{name}", label])  # type: ignore[attr-defined]
    root = tmp_path / "repo"
    root.mkdir()
    (root / "index.csv").write_text("uri,label\n" + "".join(f"{u},{lab}\n" for u, lab in rows))
    (root / "edgeops.yaml").write_text(
        "version: 1\n"
        "backend:\n"
        f"  google: {{project: edgeops-demo, location: us-central1, bucket: {google.bucket}}}\n"  # type: ignore[attr-defined]
        "datasets:\n"
        "  photos:\n"
        "    source: {csv: index.csv}\n"
    )
    counting: list[CountingClient] = []

    def reader(backend: GoogleBackend) -> GcsRows:
        made = remote_rows(backend)
        factory = made._client_factory

        def counted() -> CountingClient:
            counting.append(CountingClient(factory()))
            return counting[-1]

        made._client_factory = counted
        return made

    remote_rows = GoogleBackend.remote_rows
    monkeypatch.setattr(GoogleBackend, "remote_rows", reader)
    return {"root": root, "config": root / "edgeops.yaml", "rows": rows, "clients": counting}


def test_plan_and_apply_import_gs_rows_in_place(
    google: FakeGoogle, photos: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(photos["config"])
    code, out = run(capsys, "plan", "-f", cfg)
    assert code == 0, out
    assert "dataset.photos" in out and "24" in out, out
    (client,) = photos["clients"]
    assert client.calls == ["list_blobs", "list_blobs"]  # one listing per folder, no per-row GET

    code, out = run(capsys, "apply", "-f", cfg, "--auto-approve")
    assert code == 0, out
    assert "0 uploaded, 24 referenced in place" in out
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    assert not list(google.storage_client.list_blobs(google.bucket, prefix="edgeops/images/"))  # type: ignore[attr-defined]
    (imported,) = [b for r, b in google.bodies if r.endswith(":import")]
    csv_name = imported["importConfigs"][0]["gcsSource"]["uris"][0].split("/", 3)[3]
    lines = list(csv.reader(io.StringIO(bucket.blob(csv_name).download_as_text())))
    assert sorted(r[1:] for r in lines) == sorted(photos["rows"])
    (items,) = google.items.values()
    assert sorted(it["uri"] for it in items) == sorted(u for u, _ in photos["rows"])

    code, out = run(capsys, "plan", "-f", cfg)
    assert code == 0 and "No changes." in out, out


def test_a_missing_object_is_an_error_naming_the_csv_line(
    google: FakeGoogle, photos: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    index = photos["root"] / "index.csv"
    text = index.read_text().splitlines()
    text[5] = f"gs://{google.bucket}/photos/cat/gone.jpg,cat"  # type: ignore[attr-defined]
    text[7] = f"gs://{google.bucket}/photos/cat/,cat"  # type: ignore[attr-defined]
    index.write_text("\n".join(text) + "\n")
    code, out = run(capsys, "plan", "-f", str(photos["config"]))
    assert code == 1, out
    assert (
        f"index.csv:6: gs://{google.bucket}/photos/cat/gone.jpg: no such object in Cloud Storage"  # type: ignore[attr-defined]
        in out
    ), out
    assert "index.csv:8:" in out and "not a gs://bucket/path/image URI" in out


def test_size_and_content_type_are_checked(
    google: FakeGoogle, photos: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    bucket.blob("photos/cat/00.jpg").upload_from_string(b"%PDF", content_type="application/pdf")
    bucket.blob("photos/cat/01.jpg").upload_from_string(b"RIFF", content_type="image/webp")
    bucket.blob("photos/dog/00.jpg").upload_from_string(b"x" * (30 * 1024 * 1024 + 1))
    code, out = run(capsys, "plan", "-f", str(photos["config"]))
    assert code == 1, out
    assert "index.csv:2:" in out and "content type 'application/pdf' is not an image" in out
    assert "index.csv:3:" in out and "image/webp images cannot be trained on" in out
    assert "index.csv:14:" in out and "larger than the 30 MB limit" in out


def test_a_changed_object_plans_an_update(
    google: FakeGoogle, photos: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(photos["config"])
    assert run(capsys, "apply", "-f", cfg, "--auto-approve")[0] == 0
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    # the same name, new bytes: a new generation (and md5)
    bucket.blob("photos/dog/03.jpg").upload_from_string(b"another dog", content_type="image/jpeg")
    code, out = run(capsys, "plan", "-f", cfg)
    assert code == 0, out
    assert "No changes." not in out
    # the new object's identity (its generation, a timestamp, is part of it) picks its split;
    # the small-label guard may then move another dog: "(+1 images, -1 images[, 1 moved split])"
    assert "~ dataset.photos (update)" in out and "(+1 images, -1 images" in out, out


def test_the_local_backend_still_rejects_gs_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the google backend there is no reader: the message is the one it always was."""
    from edgeops.config.loader import load_config

    (tmp_path / "index.csv").write_text("gs://bucket/x.jpg,cat\n")
    (tmp_path / "edgeops.yaml").write_text(
        "version: 1\ndatasets:\n  photos:\n    source: {csv: index.csv}\n"
    )
    assert get_backend(load_config(tmp_path / "edgeops.yaml")).remote_rows() is None
    code, out = run(capsys, "plan", "-f", str(tmp_path / "edgeops.yaml"))
    assert code == 1
    assert "index.csv:1: gs://bucket/x.jpg: gs:// URIs are read by the google backend only" in out
