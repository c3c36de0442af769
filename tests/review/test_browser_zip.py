"""A zip dataset in a real browser: browse it, accept the model's suggestion for the likely
mislabelled image (written to the labels overrides file), remove an image with `x` and undo it,
reload, then `edgeops plan` shows the relabelled image. The features come from a fake backend
(each image's folder as a direction, the pencil's pointing at `tool`): the real backbone's
judgement is measured by bench/label_errors.py."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeops import workflow
from edgeops.config.loader import load_config
from edgeops.progress import NullReporter
from edgeops.resolve import cache_path
from edgeops.review.server import running
from edgeops.review.session import ReviewSession

from .test_browser import browser, expect_labels, plan_text, sync_api  # noqa: F401

EXAMPLE_ZIP = Path(__file__).parents[2] / "examples" / "objects" / "data" / "objects.zip"
PENCIL = "household_object/categorization_pencil.jpg"
CONFIG = """version: 1
datasets:
  objects:
    source: {zip: data/objects.zip, labels_override: data/objects.labels.csv}
"""


class FakeFeatures:
    """A backend whose image features are the label folder's direction plus noise."""

    name = "fake"

    def __init__(self, direction: dict[str, int]) -> None:
        self.direction = direction

    def image_features(self, images: Any, reporter: Any) -> tuple[str, np.ndarray]:
        rng = np.random.default_rng(0)
        x = rng.normal(0, 0.05, (len(images), 8)).astype(np.float32)
        for i, (sha, _read) in enumerate(images):
            x[i, self.direction[sha]] += 1.0
        return "fake", x / np.linalg.norm(x, axis=1, keepdims=True)


def test_zip_relabel_into_overrides_remove_undo_then_plan(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "objects"
    (root / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE_ZIP, root / "data" / "objects.zip")
    (root / "edgeops.yaml").write_text(CONFIG)
    session = workflow.open_session(root / "edgeops.yaml", NullReporter())
    assert session.desired is not None
    session.backend.import_dataset(session.desired.datasets[0], NullReporter())
    rc, out = plan_text(root, capsys)
    assert rc == 0 and "No changes." in out, out
    labels = ["animal", "fish", "household_object", "monument", "renewable_energy", "tool"]
    direction = {}
    with zipfile.ZipFile(EXAMPLE_ZIP) as zf:
        for name in zf.namelist():
            if not name.endswith("/"):
                folder = "tool" if name == PENCIL else name.split("/")[0]
                direction[hashlib.sha256(zf.read(name)).hexdigest()] = labels.index(folder)
        sha = hashlib.sha256(zf.read(PENCIL)).hexdigest()
    config = load_config(root / "edgeops.yaml")
    review = ReviewSession(
        config.dataset("objects"),
        root=root,
        cache_path=cache_path(config),
        backend=FakeFeatures(direction),
    )
    overrides = root / "data" / "objects.labels.csv"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    with running(review) as url:
        page.goto(url)
        sync_api.expect(page.locator("#file")).to_contain_text("overrides: data/objects.labels.csv")
        sync_api.expect(page.locator('[data-filter="all"] .n')).to_have_text("212")
        page.click('[data-filter="mislabelled"]')
        first = page.locator(".card").first
        sync_api.expect(first).to_have_attribute("data-path", PENCIL)
        sync_api.expect(first.locator(".flag.suggest")).to_have_attribute("data-suggest", "tool")
        page.keyboard.press("a")  # accept the suggestion
        page.wait_for_function(
            f"document.getElementById('status').textContent.startsWith('Saved {PENCIL}: tool')"
        )
        # remove another image from the dataset, then undo it
        page.click('[data-filter="label:household_object"]')
        page.click('.card[data-path="household_object/categorization_knife.jpg"]')
        page.keyboard.press("x")
        page.wait_for_function(
            "document.getElementById('status').textContent.includes('removed from the dataset')"
        )
        assert overrides.read_text().count("\n") == 3
        page.keyboard.press("u")
        page.wait_for_function("document.getElementById('status').textContent.match(/: [a-z_]+ →/)")
        page.reload()
        page.click('[data-filter="overridden"]')
        sync_api.expect(page.locator(".card")).to_have_count(1)
        expect_labels(page, PENCIL, "tool")
        sync_api.expect(page.locator('[data-filter="removed"] .n')).to_have_text("0")
        assert page.evaluate(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
        )  # thumbnails read from inside the zip
    page.close()

    assert overrides.read_text() == f"image,sha256,label\n{PENCIL},{sha[:12]},tool\n"
    rc, out = plan_text(root, capsys)
    print(out)
    assert rc == 2 and "dataset.objects" in out and "1 relabelled" in out
