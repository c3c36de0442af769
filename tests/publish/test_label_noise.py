"""Team mode II end to end, through the CLI as a user runs it (real training, slow): a pull
request that flips most of one label's training images trains a candidate that `plan --train`
shows significantly worse than the published version (top-1 interval below zero) and that
`gate.vs_published` blocks, in the JSON plan, the PR comment and apply; a clean change passes the
same gate and apply adopts its candidate byte for byte.

The example's own split has 21 test images, too few for a one-label regression to be significant
either way; this copy puts 40% of the images in the test split (79 images). Each image's split
comes from its content hash, so relabelling training images leaves the test split identical:
champion and candidate are compared on the same images.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from publish_helpers import GATE_END, apply, assert_adopted, bundle_card, edit, models, saved
from trained_example import EXAMPLE, copy_example, edgeops, ok

from edgeops.config.model import SplitSpec
from edgeops.datasets.split import hash_split

pytestmark = pytest.mark.slow

SPLIT = SplitSpec(train=50, validation=10, test=40)
VS_PUBLISHED = "      vs_published: {metric: top1_accuracy, max_drop: 0}\n"
SOURCE = "      zip: data/objects.zip # one folder per label, as AutoML Vision Edge expects\n"
OVERRIDE = "data/objects.labels.csv"


@pytest.fixture(scope="module")
def champion(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 trained and published with the larger test split and ``gate.vs_published`` set. The
    trained example's machine cache (converted backbone, image features) is copied in: derived
    data keyed by content, so only time is saved."""
    root = tmp_path_factory.mktemp("noise") / "ex"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".edgeops", "app"))
    shutil.copytree(trained / ".edgeops/cache/ml", root / ".edgeops/cache/ml")
    edit(root, "{train: 80, validation: 10, test: 10}", "{train: 50, validation: 10, test: 40}")
    edit(root, GATE_END, GATE_END + VS_PUBLISHED)
    edit(root, SOURCE, SOURCE + f"      labels_override: {OVERRIDE}\n")  # no file yet: none
    assert "1 to train" in apply(root)
    return root


def _flip(root: Path, label: str, to: str, share: float) -> int:
    """Relabel the first ``share`` of ``label``'s training images (by name) as ``to`` in the
    labels override; validation and test images keep their labels."""
    with zipfile.ZipFile(root / "data/objects.zip") as z:
        train = [
            (name, sha)
            for name in sorted(z.namelist())
            if name.startswith(f"{label}/") and not name.endswith("/")
            for sha in [hashlib.sha256(z.read(name)).hexdigest()]
            if hash_split(sha, SPLIT) == "train"
        ]
    flipped = train[: round(len(train) * share)]
    rows = "".join(f"{name},{sha[:12]},{to}\n" for name, sha in flipped)
    (root / OVERRIDE).write_text("image,sha256,label\n" + rows)
    return len(flipped)


def _plan_train(root: Path) -> dict[str, Any]:
    """`plan --train --out plan.json`: the candidate its TRAIN change pins."""
    t0 = time.monotonic()
    ok(edgeops(root, "plan", "--train", "--out", "plan.json"))
    print(f"plan --train: {time.monotonic() - t0:.1f} s")
    (train,) = [c for c in saved(root, "plan.json")["changes"] if c["action"] == "train"]
    candidate: dict[str, Any] = train["after"]["candidate"]
    assert candidate["champion"] == 1
    assert candidate["comparison"]["n_examples"] == candidate["test_images"]  # same test images
    return candidate


def _top1(candidate: dict[str, Any]) -> dict[str, float]:
    (m,) = [m for m in candidate["comparison"]["metrics"] if m["metric"] == "top1_accuracy"]
    return m["difference"]  # type: ignore[no-any-return]


def test_label_noise_is_shown_worse_and_vs_published_blocks_it(
    champion: Path, tmp_path: Path
) -> None:
    root = copy_example(champion, tmp_path / "ex")
    assert _flip(root, "monument", "tool", 0.7) == 27  # of 38 training images
    candidate = _plan_train(root)
    top1 = _top1(candidate)
    assert top1["hi"] < 0, top1  # worse, and its 95% interval excludes zero
    assert candidate["comparison"]["mcnemar"]["p"] < 0.001
    vs = candidate["vs_published"]
    assert vs["metric"] == "top1_accuracy vs published" and not vs["ok"]
    assert vs["interval"] == top1 and not candidate["blessed"]
    gates = [g for c in saved(root, "plan.json")["changes"] for g in c["gates"]]
    assert gates and all(g["vs_published"] == vs and not g["passed"] for g in gates)

    comment = ok(edgeops(root, "plan", "--format", "markdown"))  # the candidate, found again
    (row,) = [line for line in comment.splitlines() if line.startswith("| `model.objects` | v1")]
    assert f"{top1['value']:+.3f} [{top1['lo']:+.3f}, {top1['hi']:+.3f}]" in row
    assert "❌ missed (significantly worse than published)" in row
    assert "top1_accuracy vs published" in comment and "decided at apply" not in comment

    (listed,) = models(root)["candidates"]["model.objects"]  # its report, for the PR's artifact
    report = Path(listed["report"]).read_text()
    assert "<h2>Against the published version</h2>" in report and "data:image/jpeg" in report
    assert "top1_accuracy vs published" in report  # the gate, with its vs_published row

    refused = edgeops(root, "apply", "plan.json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "significantly worse than a drop of 0  MISSED" in refused.stderr
    assert "vs v1: Δ top-1 -" in refused.stderr and "McNemar p" in refused.stderr
    assert bundle_card(root)["version"] == 1  # not published: v1 stays live
    (entry,) = models(root)["registry"]
    assert entry["version"] == 1
    (v2,) = [v for v in models(root)["models"]["model.objects"] if v["version"] == 2]
    assert v2["sha256"] == candidate["sha256"] and not v2["blessed"]


def test_a_clean_change_passes_vs_published_and_apply_adopts_it(
    champion: Path, tmp_path: Path
) -> None:
    root = copy_example(champion, tmp_path / "ex")
    edit(root, "node_hours: 0.05 ", "node_hours: 0.04 ")  # same clean labels, retrained
    candidate = _plan_train(root)
    assert candidate["vs_published"]["ok"] and candidate["blessed"], candidate["vs_published"]
    assert _top1(candidate)["lo"] <= 0 <= _top1(candidate)["hi"]

    t0 = time.monotonic()
    applied = edgeops(root, "apply", "plan.json")
    print(f"apply adopting it: {time.monotonic() - t0:.1f} s")
    assert "adopted the candidate trained in plan at" in ok(applied) + applied.stderr
    assert_adopted(root, candidate["sha256"])
    assert bundle_card(root)["version"] == 2
