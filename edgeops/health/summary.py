"""A dataset's health as ``edgeops plan`` lists it: the counts ``edgeops inspect`` warns about
(near-duplicate pairs, those straddling train and validation/test, suspected label errors,
imbalance), judged the same way, over the images trained on.

A plan stays fast: it judges only from image features this machine has cached already (by an
earlier ``edgeops inspect``; a training with the same backbone caches most of them) and never
computes one; when any image's features are missing it says which command computes them. What
it judges is kept in the backend's derived-data cache, keyed by the dataset's fingerprint and
the threshold, so the next plan of the same images reads a small file and imports no numpy.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, replace
from typing import Any

from edgeops.backends.base import CachedFeatures
from edgeops.files import atomic_write
from edgeops.health.report import IMBALANCE_WARNING, imbalance
from edgeops.plan.definition import DatasetHealth
from edgeops.state import DesiredDataset

SUMMARY_VERSION = 1  # bump when what is counted changes: older cached summaries are ignored
_COUNTED = ("near_duplicate_pairs", "straddling_pairs", "suspected_label_errors")


def dataset_health(d: DesiredDataset, backend: Any) -> DatasetHealth:
    totals = Counter(label for r in d.images for label in r.labels)
    imb = imbalance({label: {"total": n} for label, n in sorted(totals.items())})
    base = DatasetHealth(
        address=d.address,
        inspected=False,
        imbalance=imb if imb and imb["ratio"] > IMBALANCE_WARNING else None,
        unlabelled=d.unlabelled,
    )
    if not isinstance(backend, CachedFeatures):
        return replace(
            base,
            note=f"near duplicates and label errors need image features, which the "
            f"{getattr(backend, 'name', '?')} backend does not compute",
        )
    threshold = d.spec.inspect.near_duplicate_similarity
    key = hashlib.sha256(
        f"{SUMMARY_VERSION}\n{d.fingerprint}\n{threshold!r}\n".encode()
    ).hexdigest()
    memo = backend.health_cache() / f"{key}.json"
    try:
        counted = json.loads(memo.read_text())
        return replace(base, inspected=True, near_duplicate_similarity=threshold, **counted)
    except (OSError, ValueError, TypeError):
        pass  # not judged yet (or an unreadable file): judge again
    found = backend.cached_image_features([r.sha256 for r in d.images])
    if found is None:
        return replace(base, note=f"not inspected yet: run `edgeops inspect {d.address}`")
    counted = _count(d, found[1], threshold)
    atomic_write(memo, json.dumps(counted).encode())
    return replace(base, inspected=True, near_duplicate_similarity=threshold, **counted)


def _count(d: DesiredDataset, x: Any, threshold: float) -> dict[str, Any]:
    from edgeops.health.near import near_pairs, straddles
    from edgeops.health.probe import check_labels

    rows = d.images
    pairs = near_pairs(x, threshold) if len(rows) else []
    errors: int | None = None
    if not d.spec.multi_label:
        _, _, judged = check_labels(x, [r.labels[0] for r in rows], [r.sha256 for r in rows])
        errors = sum(1 for j in judged if j.score > 0)
    counted = DatasetHealth(
        address=d.address,
        inspected=True,
        near_duplicate_pairs=len(pairs),
        straddling_pairs=sum(1 for i, j, _ in pairs if straddles({rows[i].split, rows[j].split})),
        suspected_label_errors=errors,
    )
    return {k: v for k, v in asdict(counted).items() if k in _COUNTED}
