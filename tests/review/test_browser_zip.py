"""A zip dataset in a real browser: browse it, relabel into the labels overrides file, remove an
image with `x` and undo it, reload, then `edgeops plan` shows the relabelled image."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from edgeops import workflow
from edgeops.progress import NullReporter
from edgeops.review.server import running

from .conftest import open_review
from .test_browser import browser, expect_labels, plan_text, sync_api  # noqa: F401

EXAMPLE_ZIP = Path(__file__).parents[2] / "examples" / "objects" / "data" / "objects.zip"
PENCIL = "household_object/categorization_pencil.jpg"
CONFIG = """version: 1
datasets:
  objects:
    source: {zip: data/objects.zip, labels_override: data/objects.labels.csv}
"""


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
    with zipfile.ZipFile(EXAMPLE_ZIP) as zf:
        sha = hashlib.sha256(zf.read(PENCIL)).hexdigest()
    overrides = root / "data" / "objects.labels.csv"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    with running(open_review(root, "objects")) as url:
        page.goto(url)
        sync_api.expect(page.locator("#file")).to_contain_text("overrides: data/objects.labels.csv")
        sync_api.expect(page.locator('[data-filter="all"] .n')).to_have_text("212")
        page.click('[data-filter="label:household_object"]')
        sync_api.expect(page.locator(".card")).to_have_count(17)
        page.click(f'.card[data-path="{PENCIL}"]')
        page.click('#labelbar button[data-label="tool"]')
        page.wait_for_function(
            f"document.getElementById('status').textContent.startsWith('Saved {PENCIL}: tool')"
        )
        # the focus moved on: remove that image from the dataset, then undo it
        page.keyboard.press("x")
        page.wait_for_function(
            "document.getElementById('status').textContent.includes('removed from the dataset')"
        )
        assert overrides.read_text().count("\n") == 3
        page.keyboard.press("u")
        page.wait_for_function(
            "document.getElementById('status').textContent.includes(': household_object')"
        )
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
