"""Vertex AI's own data rules (backends/google/rules.py) at plan time, before any upload, and the
fake refusing the same data at import (``tests/google/fakes/vertex.py``), so edgeops forgetting
a rule fails here instead of in an apply: labels start with a letter; images are JPEG, GIF, PNG,
BMP or ICO (no WebP), on local images and gs:// rows alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.vertex import FakeGoogle
from PIL import Image

from edgeops import cli
from edgeops.backends import data_rules_of
from edgeops.backends.google import vertex
from edgeops.backends.google.backend import GoogleBackend
from edgeops.backends.google.rules import label_problem
from edgeops.config.loader import load_config


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def write_config(google: FakeGoogle, root: Path) -> Path:
    path = root / "edgeops.yaml"
    path.write_text(
        "version: 1\n"
        "backend:\n"
        f"  google: {{project: edgeops-demo, location: us-central1, bucket: {google.bucket}}}\n"  # type: ignore[attr-defined]
        "datasets:\n"
        "  places:\n"
        "    source: {folder: data}\n"
    )
    return path


def test_a_label_starting_with_a_digit_is_refused_at_plan(
    google: FakeGoogle, tmp_path: Path, make_images: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: edgeops' own rule (letters, digits, '_') let `1st_place` through to Vertex."""
    make_images(tmp_path / "data", {"1st_place": 12, "second": 12})
    code, out = run(capsys, "plan", "-f", str(write_config(google, tmp_path)))
    assert code == 1, out
    assert "data/1st_place/: label '1st_place' starts with '1', not a letter" in out
    assert "image-data/classification/prepare-data" in out  # the page the rule comes from
    assert "second" not in out.split("problem")[-1]  # the valid label is not reported
    assert google.datasets == {} and not google.requests  # refused before any call


def test_a_webp_image_is_refused_at_plan_naming_the_file(
    google: FakeGoogle, tmp_path: Path, make_images: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a local WebP image was uploaded as image/webp, which Vertex AI cannot train on."""
    make_images(tmp_path / "data", {"cat": 12, "dog": 12})
    pixels = np.random.default_rng(7).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(tmp_path / "data" / "cat" / "x.webp", format="WEBP")
    code, out = run(capsys, "plan", "-f", str(write_config(google, tmp_path)))
    assert code == 1, out
    assert "data/cat/x.webp: WEBP images cannot be trained on by Vertex AI AutoML" in out
    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    assert list(bucket.list_blobs(prefix="edgeops/images/")) == []


def test_the_rules_name_the_rule_that_fails() -> None:
    assert label_problem("place_1st") == ""
    assert "starts with '_', not a letter" in label_problem("_private")
    assert "characters other than letters" in label_problem("a-b")
    rules = data_rules_of("google")
    assert rules is not None and rules.format_problem("PNG") == ""
    assert "WEBP images cannot be trained on" in rules.format_problem("WEBP")
    assert data_rules_of("local") is None


def test_init_for_google_scans_with_vertex_rules(
    tmp_path: Path,
    make_images: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_images(tmp_path / "photos", {"1st_place": 12, "second": 12})
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "init", "--from", "photos", "--backend", "google")
    assert code == 1, out
    assert "label '1st_place' starts with '1', not a letter" in out
    assert not (tmp_path / "edgeops.yaml").exists()


@pytest.mark.parametrize(
    ("label", "content_type", "refusal"),
    [
        ("1st_place", "image/png", "'1st_place' is not a Vertex AI label"),
        ("cat", "image/webp", "is image/webp, not a format Vertex AI trains on"),
    ],
)
def test_the_fake_refuses_what_vertex_refuses(
    google: FakeGoogle, tmp_path: Path, label: str, content_type: str, refusal: str
) -> None:
    from google.api_core import exceptions as gexc

    bucket = google.storage_client.bucket(google.bucket)  # type: ignore[attr-defined]
    bucket.blob("x/img.png").upload_from_string(b"img", content_type=content_type)
    uri = f"gs://{google.bucket}/x/img.png"  # type: ignore[attr-defined]
    bucket.blob("x/import.csv").upload_from_string(f"training,{uri},{label}\n")
    write_config(google, tmp_path)
    backend = GoogleBackend(load_config(tmp_path / "edgeops.yaml"))
    with pytest.raises(gexc.BadRequest, match=refusal):
        vertex.create_and_import_dataset(
            backend.clients,
            "dataset.places",
            "f" * 64,
            f"gs://{google.bucket}/x/import.csv",  # type: ignore[attr-defined]
            False,
            None,
        )


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("objects", True),
        ("objects_v2", True),
        ("O" * 32, True),
        ("objects-v2", False),  # firebase-admin accepts '-', the REST API does not
        ("2nd_model", False),  # ... nor a leading digit
        ("_objects", False),
        ("O" * 33, False),
    ],
)
def test_one_firebase_display_name_rule(
    google: FakeGoogle, tmp_path: Path, name: str, valid: bool
) -> None:
    """The schema, the backend's rules and the Firebase ML fake agree (README: Google backend)."""
    import json
    import warnings

    from firebase_admin import exceptions, ml

    from edgeops.backends.google import firebase
    from edgeops.backends.google.rules import FIREBASE_DISPLAY_NAME
    from edgeops.config.schema import load_schema
    from edgeops.errors import EdgeopsError

    schema = load_schema()
    targets = schema["$defs"]["publish_targets"]["properties"]
    assert targets["firebase"]["properties"]["display_name"]["pattern"] == (
        f"^{FIREBASE_DISPLAY_NAME.pattern}$"
    )
    assert bool(FIREBASE_DISPLAY_NAME.fullmatch(name)) is valid

    config = tmp_path / "edgeops.yaml"
    config.write_text(
        "version: 1\n"
        "backend:\n  google: {project: my-project, bucket: my-bucket}\n"
        "datasets:\n  d:\n    source: {folder: data}\n"
        "models:\n  m:\n    dataset: d\n    budget: {node_hours: 1}\n"
        f"publish:\n  m:\n    firebase: {{display_name: {json.dumps(name)}}}\n"
    )
    if valid:
        load_config(config)
    else:
        with pytest.raises(EdgeopsError, match="edgeops.yaml:13: publish.m.firebase.display_name"):
            load_config(config)

    app = firebase.firebase_app("edgeops-demo", None)
    warnings.simplefilter("ignore", DeprecationWarning)  # Firebase ML's own notice
    if valid:
        ml.create_model(ml.Model(display_name=name), app=app)
    else:
        # firebase-admin refuses only what its own looser pattern does; the service the rest
        with pytest.raises((exceptions.InvalidArgumentError, ValueError)):
            ml.create_model(ml.Model(display_name=name), app=app)
        assert not [m for m in google.firebase.values() if m["displayName"] == name]
