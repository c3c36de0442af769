"""Registry, bundle and rollback cycles through `edgeops plan` / `edgeops apply` (real training)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from publish_helpers import GATE_END, SEED_1, apply, bundle_card, edit, models, plan
from trained_example import edgeops

pytestmark = pytest.mark.slow

ASSETS = Path("app/src/main/assets")
BUNDLE_FILES = ("objects.tflite", "objects.labels.txt", "objects.json")
BUNDLE_BLOCK = "    bundle:\n      path: app/src/main/assets/objects.tflite\n      format: int8\n"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_sha(root: Path, version: int) -> str:
    return sha(root / f".edgeops/models/objects/v{version}/model_int8.tflite")


def entry(root: Path) -> dict:  # type: ignore[type-arg]
    (e,) = models(root)["registry"]
    return e  # type: ignore[no-any-return]


def test_trained_example_is_published_and_stable(example: Path) -> None:
    assert plan(example).rstrip().endswith("No changes.")
    e = entry(example)
    assert (e["display_name"], e["version"], e["tags"], e["published"]) == (
        "objects",
        1,
        ["example"],
        True,
    )
    assert e["sha256"] == version_sha(example, 1)
    card = bundle_card(example)
    assert card["version"] == 1 and card["sha256"] == sha(example / ASSETS / "objects.tflite")
    assert card["labels"] == (example / ASSETS / "objects.labels.txt").read_text().split()
    assert card["threshold"] == e["threshold"]
    (v1,) = models(example)["models"]["model.objects"]
    assert v1["blessed"] and v1["precision"] is not None and v1["au_prc"] is not None
    assert v1["published"] == ["bundle:app/src/main/assets/objects.tflite", "registry:objects"]
    text = edgeops(example, "models").stdout
    assert "registry" in text and "model.objects" in text and "registry:objects" in text
    assert e["sha256"][:12] in text


def test_registry_tag_change_is_an_update_then_no_changes(example: Path) -> None:
    edit(example, "tags: [example]", "tags: [example, beta]")
    out = plan(example)
    assert "~ publish.objects.registry (update)" in out
    assert "tags[1] added beta" in out
    assert "Plan: 0 to create, 1 to update, 0 to train, 0 to remove." in out
    apply(example)
    assert plan(example).rstrip().endswith("No changes.")
    e = entry(example)
    assert e["tags"] == ["example", "beta"] and e["version"] == 1


def test_edited_bundle_is_drift_and_restored(example: Path) -> None:
    model = example / ASSETS / "objects.tflite"
    labels = example / ASSETS / "objects.labels.txt"
    want = sha(model)
    model.write_bytes(model.read_bytes()[:-100] + b"x" * 100)  # someone "fixed" it by hand
    labels.unlink()
    r = edgeops(example, "plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stderr
    assert "Drift (changed outside edgeops" in r.stdout
    assert "app/src/main/assets/objects.tflite was edited or replaced" in r.stdout
    assert "app/src/main/assets/objects.labels.txt was deleted" in r.stdout
    assert "~ publish.objects.bundle (update)" in r.stdout
    apply(example)
    assert sha(model) == want and labels.exists()
    assert edgeops(example, "plan", "--detailed-exitcode").returncode == 0


def test_registry_changed_outside_edgeops_is_drift_and_restored(example: Path) -> None:
    db = sqlite3.connect(example / ".edgeops/registry.sqlite")
    with db:
        db.execute("UPDATE registry_entries SET tags = '[\"hacked\"]', published = 0")
    db.close()
    out = plan(example)
    assert "registry tags changed to ['hacked']" in out
    assert "registry published flag changed to false" in out
    apply(example)
    e = entry(example)
    assert e["tags"] == ["example"] and e["published"] is True
    assert plan(example).rstrip().endswith("No changes.")


def test_removing_the_bundle_target_unpublishes_it(example: Path) -> None:
    edit(example, BUNDLE_BLOCK, "")
    out = plan(example, "--allow-destroy")  # published targets are protected by default
    assert "publish.objects.bundle (unpublish; protected, allowed by --allow-destroy)" in out
    assert "removed from edgeops.yaml" in out
    assert "publish.objects.registry" not in out
    apply(example, "--allow-destroy")
    for name in BUNDLE_FILES:
        assert not (example / ASSETS / name).exists(), name
    assert entry(example)["version"] == 1  # the registry target is untouched
    assert plan(example).rstrip().endswith("No changes.")


def test_a_bundle_file_replaced_by_hand_is_not_deleted_on_unpublish(example: Path) -> None:
    labels = example / ASSETS / "objects.labels.txt"
    labels.write_text("my own labels\n")
    edit(example, BUNDLE_BLOCK, "")
    apply(example, "--allow-destroy")
    assert labels.read_text() == "my own labels\n"  # not edgeops' file any more: kept
    assert not (example / ASSETS / "objects.tflite").exists()


# --- versions: retrain, rollback by revert, pin, retention --------------------------------------


def test_retrain_publishes_the_new_version(example_v2: Path) -> None:
    versions = models(example_v2)["models"]["model.objects"]
    assert [v["version"] for v in versions] == [1, 2]
    assert entry(example_v2)["version"] == 2
    assert bundle_card(example_v2)["version"] == 2
    assert entry(example_v2)["sha256"] == version_sha(example_v2, 2) != version_sha(example_v2, 1)
    assert plan(example_v2).rstrip().endswith("No changes.")


def test_reverting_the_config_rolls_back_without_training(example_v2: Path) -> None:
    edit(example_v2, GATE_END + SEED_1, GATE_END)
    out = plan(example_v2)
    assert "(train)" not in out and "0 to train" in out
    for target in ("registry", "bundle"):
        assert f"~ publish.objects.{target} (update)" in out
    assert out.count("v2 -> v1: v1 matches the config (already trained, no retraining)") == 2
    applied = edgeops(example_v2, "apply", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert "0 to train" in applied.stdout and "(train)" not in applied.stdout
    assert "training classifier head" not in applied.stderr
    assert entry(example_v2)["version"] == 1
    assert entry(example_v2)["sha256"] == version_sha(example_v2, 1)
    assert bundle_card(example_v2)["version"] == 1
    assert sha(example_v2 / ASSETS / "objects.tflite") == version_sha(example_v2, 1)
    assert [v["version"] for v in models(example_v2)["models"]["model.objects"]] == [1, 2]
    assert plan(example_v2).rstrip().endswith("No changes.")


def test_pinning_a_version(example_v2: Path) -> None:
    edit(example_v2, "tags: [example]\n", "tags: [example]\n      version: 1\n")
    out = plan(example_v2)
    assert "v2 -> v1: pinned to v1 (already trained, no retraining)" in out
    assert "publish.objects.bundle" not in out  # the bundle follows the config: v2
    apply(example_v2)
    assert entry(example_v2)["version"] == 1 and bundle_card(example_v2)["version"] == 2
    assert plan(example_v2).rstrip().endswith("No changes.")
    edit(example_v2, "      version: 1\n", "      version: 7\n")
    r = edgeops(example_v2, "plan")
    assert r.returncode == 1 and "version 7 of model.objects does not exist" in r.stderr


def test_keep_deletes_only_unpublished_old_versions(example_v2: Path) -> None:
    keep = "    dataset: objects\n    keep: 1\n"
    # v1 pinned by the registry: kept although keep: 1
    edit(example_v2, "tags: [example]\n", "tags: [example]\n      version: 1\n")
    edit(example_v2, "    dataset: objects\n", keep)
    out = plan(example_v2)
    assert "(delete)" not in out
    apply(example_v2)
    assert (example_v2 / ".edgeops/models/objects/v1").is_dir()
    # unpinned: v1 is published nowhere, so keep: 1 deletes it (and only it)
    edit(example_v2, "      version: 1\n", "")
    out = plan(example_v2)
    assert "x model.objects (delete)" in out and "versions to delete: v1" in out
    apply(example_v2)
    assert [v["version"] for v in models(example_v2)["models"]["model.objects"]] == [2]
    assert not (example_v2 / ".edgeops/models/objects/v1").exists()
    assert (example_v2 / ".edgeops/models/objects/v2/model_int8.tflite").exists()
    assert entry(example_v2)["version"] == 2 and bundle_card(example_v2)["version"] == 2
    assert plan(example_v2).rstrip().endswith("No changes.")


def test_a_missed_gate_blocks_the_publish_and_keeps_the_live_model(example: Path) -> None:
    before_entry, before_card = entry(example), bundle_card(example)
    edit(example, "      max_f1: true\n", "      value: 0.99\n")  # almost nothing scores 0.99
    edit(example, "min_recall: 0.5", "min_recall: 0.9")
    out = plan(example)
    assert "? model.objects (evaluate)" in out and "0 to train" in out
    r = edgeops(example, "apply", "--auto-approve")
    assert r.returncode == 1
    assert "missed its gate" in r.stderr and "MISSED" in r.stderr
    assert "the previous version stays live" in r.stderr
    assert entry(example) == before_entry and bundle_card(example) == before_card
    (v1,) = models(example)["models"]["model.objects"]
    assert v1["blessed"] is False and v1["threshold"] == 0.99
    out = plan(example)
    assert "v1 of model.objects missed its gate; publish is blocked" in out
    assert out.rstrip().endswith("No changes.")
