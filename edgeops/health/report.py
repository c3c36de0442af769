"""``edgeops inspect dataset.NAME``: a dataset's health as one versioned JSON document.

Top-level keys (``format_version`` 1): ``dataset``, ``source``, ``images`` (distinct images
trained on), ``unlabelled``, ``removed`` (by the overrides file), ``labels`` (label -> counts per
split and ``total``), ``imbalance`` (largest/smallest label), ``exact_duplicates`` (groups of
paths with one content), ``near_duplicates`` (groups: ``similarity`` (the lowest pair joining
the group), ``straddles_splits``, ``images`` with ``path``, ``sha256``, ``split``, ``labels``),
``suspected_label_errors`` (``path``, ``sha256``, ``split``, ``given``, ``suggested``, ``score``,
``p_given``, ``p_suggested``; most suspicious first), ``unlabelled_suggestions``
(``path``, ``sha256``, ``suggested``, ``confidence``), ``features`` (backbone, threshold, or why
there are none), ``warnings`` and ``errors`` (the import's problems, as ``edgeops plan`` words
them). Errors make the command exit 1; warnings do not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeops.config.model import DatasetSpec
from edgeops.progress import Reporter

FORMAT_VERSION = 1
IMBALANCE_WARNING = 3.0  # largest label / smallest label above this is a warning


@dataclass
class Predictions:
    """sha256 -> (label, probability) the probe gives: out of fold for labelled images."""

    labels: tuple[str, ...] = ()
    by_sha: dict[str, tuple[str, float]] = field(default_factory=dict)


def inspect_dataset(
    spec: DatasetSpec, *, root: Path, cache_path: Path, backend: Any, reporter: Reporter
) -> dict[str, Any]:
    from edgeops.health.grouping import near_groups_for
    from edgeops.review.problems import review_dataset, scan_hooks

    near = near_groups_for(spec, backend)  # the splits the plan uses, once features are cached
    remote, rules = scan_hooks(backend)  # gs:// csv rows and the trainer's rules, as plan reads
    review = review_dataset(
        spec, root=root, cache_path=cache_path, near=near, remote=remote, rules=rules
    )
    return health_of(review, spec, backend=backend, reporter=reporter)[0]


def health_of(
    review: Any, spec: DatasetSpec, *, backend: Any, reporter: Reporter
) -> tuple[dict[str, Any], Predictions]:
    """The health document of a ``DatasetReview``, and the probe's predictions per image."""
    from edgeops.backends.base import ImageFeatures

    paths_of: dict[str, list[str]] = defaultdict(list)
    info: dict[str, Any] = {}
    for im in review.images:
        paths_of[im.sha256].append(im.path)
        if not im.excluded:
            info.setdefault(im.sha256, im)
    labelled = sorted(s for s, im in info.items() if im.labels)
    unlabelled = sorted(s for s, im in info.items() if not im.labels)
    counts = {label: {**c, "total": sum(c.values())} for label, c in sorted(review.counts.items())}
    warnings = list(review.warnings)
    errors = [f"{p.where}: {p.what}" for p in review.problems]
    errors += [f"{r.path}: {r.reason}" for r in review.rejected]

    doc: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "dataset": spec.name,
        "source": review.images_folder,
        "images": len(labelled),
        "unlabelled": len(unlabelled),
        "removed": len({im.sha256 for im in review.images if im.excluded}),
        "labels": counts,
        "imbalance": imbalance(counts),
        "exact_duplicates": [
            sorted(p) for p in sorted(paths_of.values(), key=lambda p: sorted(p)) if len(p) > 1
        ],
        "near_duplicates": [],
        "suspected_label_errors": [],
        "unlabelled_suggestions": [],
        "features": None,
        "warnings": warnings,
        "errors": errors,
    }
    imb = doc["imbalance"]
    if imb and imb["ratio"] > IMBALANCE_WARNING:
        warnings.append(
            f"class imbalance: '{imb['largest']}' has {imb['ratio']:.1f}x the images of "
            f"'{imb['smallest']}'; add images of the small labels"
        )
    if unlabelled:
        warnings.append(f"{len(unlabelled)} unlabelled images are not trained on")
    predictions = Predictions()
    if not isinstance(backend, ImageFeatures):
        doc["features"] = {
            "available": False,
            "why": f"the {getattr(backend, 'name', '?')} backend cannot compute image features "
            "on this machine; near duplicates and label errors need the local backend",
        }
        warnings.append(doc["features"]["why"])
        return doc, predictions

    from edgeops.datasets.readback import source_reader

    shas = labelled + unlabelled
    with source_reader(spec) as read:
        readable = [s for s in shas if info[s].file and not info[s].file.startswith("gs://")]
        items = [(s, reader(read, info[s].file)) for s in readable]
        backbone, x = backend.image_features(items, reporter)
    threshold = spec.inspect.near_duplicate_similarity
    doc["features"] = {
        "available": True,
        "backbone": backbone,
        "near_duplicate_similarity": threshold,
    }
    _near(doc, x, readable, info, paths_of, threshold, warnings)
    if spec.multi_label:
        warnings.append("label errors are judged for single-label datasets only")
        return doc, predictions
    predictions = _labels(doc, x, readable, info, warnings)
    return doc, predictions


def reader(read: Any, locator: str) -> Any:
    """A thunk reading one image through a source reader (``readback.source_reader``)."""

    def get() -> bytes:
        data = read(locator)
        if data is None:
            raise OSError(f"cannot read {locator}")
        return bytes(data)

    return get


def imbalance(counts: dict[str, dict[str, int]]) -> dict[str, Any] | None:
    if len(counts) < 2:
        return None
    totals = {label: c["total"] for label, c in counts.items()}
    largest = max(totals, key=lambda k: (totals[k], k))
    smallest = min(totals, key=lambda k: (totals[k], k))
    ratio = totals[largest] / max(1, totals[smallest])
    return {"largest": largest, "smallest": smallest, "ratio": round(ratio, 2)}


def _near(
    doc: dict[str, Any],
    x: Any,
    shas: list[str],
    info: dict[str, Any],
    paths_of: dict[str, list[str]],
    threshold: float,
    warnings: list[str],
) -> None:
    from edgeops.health.near import groups, near_pairs, straddles

    straddling = 0
    for members, sim in groups(len(shas), near_pairs(x, threshold)):
        images = [
            {
                "path": sorted(paths_of[shas[i]])[0],
                "sha256": shas[i],
                "split": info[shas[i]].split,
                "labels": list(info[shas[i]].labels),
            }
            for i in members
        ]
        straddling_group = straddles({im["split"] for im in images})
        straddling += straddling_group
        doc["near_duplicates"].append(
            {"similarity": round(sim, 4), "straddles_splits": straddling_group, "images": images}
        )
    n = len(doc["near_duplicates"])
    if n:
        warnings.append(f"{n} groups of near-duplicate images (similarity >= {threshold:g})")
    if straddling:
        warnings.append(
            f"{straddling} near-duplicate groups straddle train and validation/test: the "
            "evaluation sees images it was trained on, so its metrics are inflated"
        )


def _labels(
    doc: dict[str, Any], x: Any, shas: list[str], info: dict[str, Any], warnings: list[str]
) -> Predictions:
    import numpy as np

    from edgeops.health.probe import check_labels, fit

    rows = [i for i, s in enumerate(shas) if info[s].labels]
    xl = x[rows]
    given = [info[shas[i]].labels[0] for i in rows]
    labels, probs, judgements = check_labels(xl, given, [shas[i] for i in rows])
    predictions = Predictions(labels)
    if len(labels) < 2:
        return predictions
    for j, i in enumerate(rows):
        best = int(probs[j].argmax())
        predictions.by_sha[shas[i]] = (labels[best], float(probs[j, best]))
    for judgement in judgements:
        if judgement.score <= 0:
            break
        im = info[shas[rows[judgement.index]]]
        doc["suspected_label_errors"].append(
            {
                "path": im.path,
                "sha256": im.sha256,
                "split": im.split,
                "given": labels[judgement.given],
                "suggested": labels[judgement.suggested],
                "score": round(judgement.score, 4),
                "p_given": round(judgement.p_given, 4),
                "p_suggested": round(judgement.p_suggested, 4),
            }
        )
    if doc["suspected_label_errors"]:
        warnings.append(
            f"{len(doc['suspected_label_errors'])} suspected label errors (a probe trained "
            "without them prefers another label)"
        )
    rest = [i for i, s in enumerate(shas) if not info[s].labels]
    if rest:
        y = np.array([labels.index(g) for g in given])
        p = fit(xl, y, len(labels)).predict(x[rest])
        for j, i in enumerate(rest):
            best = int(p[j].argmax())
            predictions.by_sha[shas[i]] = (labels[best], float(p[j, best]))
            doc["unlabelled_suggestions"].append(
                {
                    "path": info[shas[i]].path,
                    "sha256": shas[i],
                    "suggested": labels[best],
                    "confidence": round(float(p[j, best]), 4),
                }
            )
    return predictions
