"""`split.group_near_duplicates` end to end: planted near duplicates straddling splits end up in
one split once their features are cached on this machine, and the plan says what it did."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgeops.backends.local.features import FEATURE_BACKBONE_NAME
from edgeops.datasets.split import hash_split
from edgeops.progress import NullReporter
from edgeops.workflow import open_session

MakeImages = Callable[[Path, dict[str, int]], list[Path]]  # the `make_images` fixture


def test_planted_near_duplicates_land_in_one_split(repo: Path, make_images: MakeImages) -> None:
    root = repo  # a folder dataset `pets`
    config = root / "edgeops.yaml"
    config.write_text(config.read_text() + "    split: {group_near_duplicates: true}\n")
    make_images(root / "data", {"cat": 18, "dog": 18})
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "data").rglob("*.png")]
    assert len(shas) == 60

    before = open_session(root / "edgeops.yaml", NullReporter())
    assert before.desired is not None
    d = before.desired.datasets[0]
    assert any("group_near_duplicates is not applied yet" in w for w in d.warnings)
    by_hash = {r.sha256: r.split for r in d.images}
    assert set(by_hash) == set(shas)

    # plant features: every image its own random direction, and three pairs of near copies,
    # each pair one train image and one validation/test image by hash
    rng = np.random.default_rng(0)
    feats = {s: rng.normal(0, 1, 64) for s in shas}
    train = [s for s in shas if by_hash[s] == "train"]
    held = [s for s in shas if by_hash[s] != "train"]
    pairs = list(zip(train[:3], held[:3], strict=True))
    for a, b in pairs:
        feats[b] = feats[a] + rng.normal(0, 0.01, 64)
    folder = root / ".edgeops" / "cache" / "ml" / "features" / FEATURE_BACKBONE_NAME
    for s, v in feats.items():
        (folder / s[:2]).mkdir(parents=True, exist_ok=True)
        np.save(folder / s[:2] / f"{s}.plain.npy", v.astype(np.float32))

    after = open_session(root / "edgeops.yaml", NullReporter())
    assert after.desired is not None
    d = after.desired.datasets[0]
    split = {r.sha256: r.split for r in d.images}
    for a, b in pairs:
        assert split[a] == split[b] == hash_split(min(a, b), d.spec.split)
    moved = sum(1 for a, b in pairs for s in (a, b) if split[s] != by_hash[s])
    assert moved == 3
    assert (
        "split.group_near_duplicates: 3 images follow their near-duplicate group's split instead "
        "of their own hash split (3 groups)" in d.warnings
    )
    assert all(split[s] == by_hash[s] for s in shas if all(s not in p for p in pairs))
    plan = after.plan()
    (health,) = plan.health
    assert health.inspected
    assert (health.near_duplicate_pairs, health.straddling_pairs) == (3, 0)
