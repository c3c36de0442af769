"""Planning datasets: what changed in a dataset's images, per label; and which of a backend's
copies of earlier images (a Vertex AI dataset) no kept model version needs any more."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from operator import itemgetter

from edgeops.plan.definition import Action, Change, ReasonCode
from edgeops.state import DesiredDataset, ImageRow, LiveDataset, LiveState


def dataset_diff(
    desired: tuple[ImageRow, ...], live: tuple[ImageRow, ...]
) -> dict[str, dict[str, int]]:
    """Per label: images added, removed, relabelled (to or from this label), moved split."""
    if not live:  # a new dataset: every image is added (its images are distinct already)
        return {label: {"added": n} for label, n in _label_counts(desired).items()}
    want = {r.sha256: r for r in desired}
    have = {r.sha256: r for r in live}
    per: dict[str, Counter[str]] = {}

    def bump(label: str, what: str) -> None:
        per.setdefault(label, Counter())[what] += 1

    for sha, r in want.items():
        old = have.get(sha)
        if old is None:
            for label in r.labels:
                bump(label, "added")
        elif old.labels != r.labels:
            for label in set(r.labels) - set(old.labels):
                bump(label, "relabelled_in")
            for label in set(old.labels) - set(r.labels):
                bump(label, "relabelled_out")
        elif old.split != r.split:
            for label in r.labels:
                bump(label, "moved_split")
    for sha, old in have.items():
        if sha not in want:
            for label in old.labels:
                bump(label, "removed")
    return {label: dict(c) for label, c in sorted(per.items())}


def summarize_dataset_diff(diff: dict[str, dict[str, int]]) -> str:
    added = sum(c.get("added", 0) for c in diff.values())
    removed = sum(c.get("removed", 0) for c in diff.values())
    relabelled = sum(c.get("relabelled_in", 0) for c in diff.values())
    moved = sum(c.get("moved_split", 0) for c in diff.values())
    parts = []
    if added:
        parts.append(f"+{added} images")
    if removed:
        parts.append(f"-{removed} images")
    if relabelled:
        parts.append(f"{relabelled} relabelled")
    if moved:
        parts.append(f"{moved} moved split")
    return ", ".join(parts) or "no image changes"


def _label_counts(rows: Iterable[ImageRow]) -> dict[str, int]:
    # the label sets counted in C (a handful of distinct ones), then each label
    c: Counter[str] = Counter()
    for labels, n in Counter(map(itemgetter(1), rows)).items():
        for label in labels:
            c[label] += n
    return dict(sorted(c.items()))


def plan_dataset(
    d: DesiredDataset, ld: LiveDataset | None, live: LiveState
) -> tuple[Change | None, str]:
    """The dataset's change (None when its images are as live), and a short summary of it
    ("+12 images, 1 relabelled") that the reasons of its models' changes quote."""
    labels = _label_counts(d.images)
    after = {
        "fingerprint": d.fingerprint,
        "images": len(d.images),
        "labels": labels,
        "unlabelled": d.unlabelled,
    }
    if ld is None:
        summary = f"{len(d.images)} images, {len(labels)} labels"
        return Change(
            address=d.address,
            action=Action.CREATE,
            reason=f"new dataset ({summary})",
            reason_codes=(ReasonCode.NEW,),
            after=after,
            details={"per_label": {label: {"added": n} for label, n in labels.items()}},
            live_serial=live.serial(d.address),
            desired_fingerprint=d.fingerprint,
        ), summary
    if ld.fingerprint == d.fingerprint:
        return None, ""
    diff = dataset_diff(d.images, ld.images)
    summary = summarize_dataset_diff(diff)
    old_labels = set(_label_counts(ld.images))
    new_labels = sorted(set(labels) - old_labels)
    gone_labels = sorted(old_labels - set(labels))
    if new_labels:
        summary += f", {len(new_labels)} new label(s): {', '.join(new_labels)}"
    if gone_labels:
        summary += f", label(s) gone: {', '.join(gone_labels)}"
    return Change(
        address=d.address,
        action=Action.UPDATE,
        reason=f"images changed ({summary})",
        reason_codes=(ReasonCode.IMAGES_CHANGED,),
        before={
            "fingerprint": ld.fingerprint,
            "images": len(ld.images),
            "labels": _label_counts(ld.images),
        },
        after=after,
        details={"per_label": diff},
        live_serial=live.serial(d.address),
        desired_fingerprint=d.fingerprint,
    ), summary


def plan_dataset_cleanup(
    d: DesiredDataset, ld: LiveDataset | None, live: LiveState, doomed: set[tuple[str, int]]
) -> Change | None:
    """Delete the backend's copies of this dataset's earlier images (``old_resources``, and the
    current one when this plan imports new images) that no model version is trained on once
    this plan's retention deletes (``doomed``: (model address, version)) are done. The applier
    checks again what is still used when it gets there."""
    if ld is None:
        return None
    old = list(ld.old_resources)
    if ld.resource and ld.fingerprint != d.fingerprint:
        old.append(ld.resource)  # this apply imports the new images into a new copy
    used = {
        m.trained_on[v.version]
        for m in live.models.values()
        for v in m.versions
        if v.status == "ready"
        and v.version in m.trained_on
        and (m.address, v.version) not in doomed
    }
    unused = [r for r in old if r not in used]
    if not unused:
        return None
    return Change(
        address=d.address,
        action=Action.DELETE,
        reason=(
            f"{len(unused)} copy(ies) of earlier images in the backend that no kept model "
            "version was trained on"
        ),
        reason_codes=(ReasonCode.UNUSED,),
        before={"resources": [r for r in (*ld.old_resources, ld.resource) if r]},
        after={"delete_resources": unused},
        details={"deletes": unused},
        live_serial=live.serial(d.address),
        desired_fingerprint=d.fingerprint,
    )
