"""End to end in a real browser (Debian's Chromium driven by Playwright; never downloaded):
label images by keyboard and click, undo, reload, check the labels file and `edgeops plan`."""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeops import workflow
from edgeops.cli import main
from edgeops.progress import NullReporter
from edgeops.review.server import running

from .conftest import UNLABELLED, open_review

CHROMIUM = os.environ.get("EDGEOPS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(__file__).parent / "artifacts"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install -e .[dev])"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium); "
        ".ci/run does",
        allow_module_level=True,
    )

MODEL = """
models:
  critters:
    dataset: critters
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def seed_live_state(root: Path) -> None:
    """Live state as after `edgeops apply` of the committed labels: the dataset imported and a
    ready model version trained on it (recorded in the registry; training itself is tested in
    tests/backends)."""
    session = workflow.open_session(root / "edgeops.yaml", NullReporter())
    assert session.desired is not None
    session.backend.import_dataset(session.desired.datasets[0], NullReporter())
    model = session.desired.models[0]
    reg = session.backend.registry  # type: ignore[attr-defined]
    version = reg.begin_version(model.address, model.fingerprint, model.eval_fingerprint)
    reg.finish_version(
        model.address,
        version,
        status="ready",
        eval_fingerprint=model.eval_fingerprint,
        blessed=True,
        threshold=0.5,
        metrics={"inputs": model.inputs},
        stop_reason="",
        cost_node_hours=0.0,
        files={},
    )


def plan_text(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["-C", str(root), "plan", "--detailed-exitcode"])
    return rc, capsys.readouterr().out


def card_labels(page: Any, path: str) -> str:
    return str(page.locator(f'.card[data-path="{path}"] .labels').inner_text()).strip()


def expect_labels(page: Any, path: str, text: str) -> None:
    """Wait (Playwright's retrying assertion) until a card shows these labels."""
    sync_api.expect(page.locator(f'.card[data-path="{path}"] .labels')).to_have_text(text)


def test_label_by_keyboard_and_click_undo_reload_then_plan(
    browser: Any, labelling_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = labelling_repo
    with open(root / "edgeops.yaml", "a") as f:
        f.write(MODEL)
    seed_live_state(root)
    rc, out = plan_text(root, capsys)
    assert rc == 0 and "No changes." in out, out
    labels_file = root / "data" / "labels.csv"
    original = labels_file.read_text()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    with running(open_review(root)) as url:
        page.goto(url)
        page.click('[data-filter="unlabelled"]')
        cards = page.locator(".card")
        sync_api.expect(cards).to_have_count(len(UNLABELLED))
        assert [cards.nth(i).get_attribute("data-path") for i in range(6)] == list(UNLABELLED)
        sync_api.expect(page.locator("#labelbar button")).to_have_text(["1animal", "2fish"])

        # three by keyboard: 2 = fish (and move on), 2 = fish, arrow past one, 1 = animal
        page.keyboard.press("2")
        page.keyboard.press("2")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("1")
        expect_labels(page, UNLABELLED[3], "animal")
        # undo the last one (u), then relabel a labelled image by click
        page.keyboard.press("u")
        page.click('[data-filter="label:fish"]')
        page.click('.card[data-path="categorization_fish13.jpg"]')
        page.click('#labelbar button[data-label="animal"]')
        page.wait_for_function(
            "document.getElementById('status').textContent"
            ".startsWith('Saved categorization_fish13.jpg: animal')"
        )

        page.reload()
        expect_labels(page, UNLABELLED[0], "fish")
        expect_labels(page, UNLABELLED[1], "fish")
        expect_labels(page, UNLABELLED[2], "unlabelled")
        expect_labels(page, UNLABELLED[3], "unlabelled")  # undone
        expect_labels(page, "categorization_fish13.jpg", "animal")
        sync_api.expect(page.locator('[data-filter="unlabelled"] .n')).to_have_text("4")
        assert page.locator('[data-filter="label:animal"] .n').inner_text() == "13"
        assert page.locator('[data-filter="label:fish"] .n').inner_text() == "13"
        page.click('[data-filter="label:animal"]')
        assert "null" not in page.inner_text("#grid")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "review-e2e.png"
        page.screenshot(path=str(shot), full_page=False)
        print(f"screenshot: {shot}")
        # every thumbnail on screen loaded (served by the app, no network)
        assert page.evaluate(
            "[...document.images].filter(i => i.getBoundingClientRect().top < innerHeight)"
            ".every(i => i.complete && i.naturalWidth > 0 && i.naturalWidth <= 256)"
        )
    page.close()

    rows = original.splitlines()
    expected_rows = sorted(
        [r for r in rows[1:] if r != "categorization_fish13.jpg,fish"]
        + [
            "categorization_fish13.jpg,animal",
            f"{UNLABELLED[0]},fish",
            f"{UNLABELLED[1]},fish",
        ]
    )
    assert labels_file.read_text() == "\n".join([rows[0], *expected_rows]) + "\n"
    after = labels_file.read_text().splitlines()
    diff = [
        line
        for line in difflib.unified_diff(original.splitlines(), after)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert sorted(diff) == [
        "+categorization_fish13.jpg,animal",
        f"+{UNLABELLED[0]},fish",
        f"+{UNLABELLED[1]},fish",
        "-categorization_fish13.jpg,fish",
    ]

    rc, out = plan_text(root, capsys)
    print(out)
    assert rc == 2
    assert "dataset.critters" in out and "+2 images, 1 relabelled" in out
    assert "model.critters" in out and "dataset.critters changed (+2 images, 1 relabelled)" in out
    assert "Plan: 0 to create, 1 to update, 1 to train" in out


def test_multi_label_toggles_new_label_ctrl_z_and_rejected_files(
    browser: Any, labelling_repo: Path
) -> None:
    root = labelling_repo
    config = root / "edgeops.yaml"
    config.write_text(
        config.read_text().replace("    source:\n", "    multi_label: true\n    source:\n")
    )
    (root / "data" / "images" / "notes.txt").write_text("not a photo")
    labels_file = root / "data" / "labels.csv"
    original = labels_file.read_text()
    first = UNLABELLED[0]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    with running(open_review(root)) as url:
        page.goto(url)
        sync_api.expect(page.locator("#dataset")).to_contain_text("(multi-label)")
        page.click('[data-filter="unlabelled"]')
        sync_api.expect(page.locator(".card")).to_have_count(len(UNLABELLED))
        page.fill("#newlabel-name", "underwater")
        page.press("#newlabel-name", "Enter")
        sync_api.expect(page.locator("#labelbar button")).to_have_text(
            ["1animal", "2fish", "3underwater"]
        )
        page.keyboard.press("2")  # toggle fish on (no moving on in a multi-label dataset)
        page.keyboard.press("3")  # toggle underwater on
        page.keyboard.press("Control+z")  # ... and off again
        page.keyboard.press("1")  # toggle animal on
        page.wait_for_function(
            "document.getElementById('status').textContent"
            f".startsWith('Saved {first}: animal, fish')"
        )
        assert card_labels(page, first).split() == ["animal", "fish"]
        sync_api.expect(page.locator("#labelbar button.on")).to_have_text(["1animal", "2fish"])

        page.click('[data-filter="rejected"]')
        sync_api.expect(page.locator('[data-filter="rejected"] .n')).to_have_text("1")
        sync_api.expect(page.locator("#list")).to_contain_text("data/images/notes.txt")
        table = page.inner_text("#list")
        assert "data/images/notes.txt" in table and "not an image" in table
    page.close()

    added = sorted(set(labels_file.read_text().splitlines()) - set(original.splitlines()))
    assert added == [f"{first},animal,fish"]
    assert len(labels_file.read_text().splitlines()) == len(original.splitlines()) + 1
