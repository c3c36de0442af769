"""A source's found images -> its Manifest: one record per distinct image, checked as a whole.

What the per-image checks cannot see is decided here, over every image a source holds:

- identical bytes are one image: exact copies are stored once (a warning names one); in a
  single-label dataset the same image under two labels is an error, in a multi-label one it
  carries both labels;
- each label needs ``MIN_IMAGES_PER_LABEL`` images (error) and should have
  ``RECOMMENDED_IMAGES_PER_LABEL`` (warning); one label only is a warning;
- splits come from the content hashes (``split.assign_splits``);
- a backend's ``DataRules`` (a stricter trainer) may refuse labels and image formats.

Problems go to ``problems``, which raises them all at once before the Manifest is built (the
review page passes one that keeps collecting instead).
"""

from __future__ import annotations

from functools import partial

from edgeops.config.model import DatasetSpec
from edgeops.datasets.images import Inspection
from edgeops.datasets.labels import (
    MIN_IMAGES_PER_LABEL,
    RECOMMENDED_IMAGES_PER_LABEL,
    is_valid_label,
)
from edgeops.datasets.manifest import ImageRecord, Manifest
from edgeops.datasets.problems import Problems
from edgeops.datasets.rules import DataRules
from edgeops.datasets.sources import Entry, Found
from edgeops.datasets.split import NearGroups, assign_splits, hash_split


def assemble_manifest(
    spec: DatasetSpec,
    found: Found,
    label_where: dict[str, str],
    *,
    shown: str,
    problems: Problems,
    rules: DataRules | None = None,
    near: NearGroups | None = None,
) -> Manifest:
    """The Manifest of everything a source scan found; raises through ``problems``.

    ``label_where`` names where each label was declared (its folder, or the first CSV row
    using it), for the per-label messages; ``shown`` names the source; ``rules`` are the
    backend trainer's own (None: edgeops' rules only); ``near`` finds near-duplicate groups
    for ``split.group_near_duplicates`` (None: splits by hash alone).
    """
    if rules is not None:
        refused: dict[str, str] = {}  # format -> why (asked once per format)
        for entry, insp in found:
            if insp.format not in refused:
                refused[insp.format] = rules.format_problem(insp.format)
            if refused[insp.format]:
                problems.add(entry.describe(), refused[insp.format])
    # sha256 -> the first (entry, inspection) with those bytes, sorted into labelled and
    # unlabelled in the same pass; later copies go to ``copies``, settled below
    first: dict[str, tuple[Entry, Inspection]] = {}
    copies: dict[str, list[tuple[Entry, Inspection]]] = {}
    labelled: dict[str, tuple[tuple[str, ...], Entry, Inspection]] = {}
    unlabelled: dict[str, tuple[Entry, Inspection]] = {}
    keep = first.setdefault
    for item in found:
        e, i = item
        sha = i.sha256
        held = keep(sha, item)
        if held is not item:
            copies.setdefault(sha, [held]).append(item)
        elif e.labels:
            labelled[sha] = (e.labels, e, i)
        else:
            unlabelled[sha] = (e, i)

    duplicates: list[tuple[str, str]] = []
    for sha in [sha for sha in first if sha in copies] if copies else ():  # in first-seen order
        items = copies[sha]
        labelled.pop(sha, None)
        unlabelled.pop(sha, None)
        with_labels = [(e, i) for e, i in items if e.labels]
        if not with_labels:
            kept_e, kept_i = items[0]
            unlabelled[sha] = (kept_e, kept_i)
            duplicates.extend((kept_e.where, e.where) for e, _ in items[1:])
            continue
        kept_e, kept_i = with_labels[0]
        label_set = set(kept_e.labels)
        if not spec.multi_label:
            others = [e for e, _ in with_labels[1:] if e.labels != kept_e.labels]
            if others:
                other = others[0]
                problems.add(
                    kept_e.describe(),
                    f"identical image under label '{other.labels[0]}' as "
                    f"{other.describe()} (here: '{kept_e.labels[0]}'); a single-label dataset "
                    "gives each image one label: delete the wrong copy (or set multi_label: "
                    "true)",
                )
                labelled[sha] = (kept_e.labels, kept_e, kept_i)  # counted once, no cascade
                continue
        for e, _ in items:
            if e is kept_e:
                continue
            if e.labels and not set(e.labels) <= label_set:
                label_set |= set(e.labels)  # multi-label: same image in another label folder
            else:
                duplicates.append((kept_e.where, e.where))
        labelled[sha] = (tuple(sorted(label_set)), kept_e, kept_i)

    counts: dict[str, int] = {}
    for labels, _, _ in labelled.values():
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    warnings: list[str] = []
    for label in sorted(counts):
        n = counts[label]
        if not is_valid_label(label):
            continue  # already reported
        where = label_where.get(label, f"label '{label}'")
        why = rules.label_problem(label) if rules is not None else ""
        if why:
            problems.add(where, why)
            continue
        if n < MIN_IMAGES_PER_LABEL:
            problems.add(
                where,
                f"label '{label}' has {n} image{'s' if n != 1 else ''}; "
                f"AutoML Vision Edge needs at least {MIN_IMAGES_PER_LABEL} per "
                "label: add images or remove the label",
            )
        elif n < RECOMMENDED_IMAGES_PER_LABEL:
            warnings.append(
                f"label '{label}' has {n} images; AutoML recommends at least "
                f"{RECOMMENDED_IMAGES_PER_LABEL}"
            )
    if not labelled and not problems:
        problems.add(shown, "no labelled images; add images (one folder per label) or label them")
    problems.raise_if_any(spec.name, shown)

    if len(counts) == 1:
        warnings.append(
            f"only one label ('{next(iter(counts))}'); a classifier needs at "
            "least 2 labels to learn anything"
        )
    if duplicates:
        kept, dup = duplicates[0]
        n = len(duplicates)
        warnings.append(
            f"{n} exact duplicate image{'s' if n != 1 else ''} stored once "
            f"(e.g. {dup} is a copy of {kept})"
        )

    near_groups: list[list[str]] = []
    if near is not None and spec.split.group_near_duplicates:
        near_groups, note = near(sorted(labelled))
        if note:
            warnings.append(note)
    splits = assign_splits(((sha, v[0]) for sha, v in labelled.items()), spec.split, near_groups)
    follow = sum(
        1
        for g in near_groups
        for sha in g
        if sha in splits and splits[sha] != hash_split(sha, spec.split)
    )
    if follow:
        warnings.append(
            f"split.group_near_duplicates: {follow} image{'s' if follow != 1 else ''} follow "
            f"{'their' if follow != 1 else 'its'} near-duplicate group's split instead of "
            f"{'their' if follow != 1 else 'its'} own hash split ({len(near_groups)} groups)"
        )
    # sorting the hashes alone, not (hash, value) pairs: a third of the time on 100k images;
    # one pass (each pass over 100k records waits on memory more than it computes)
    images = tuple(
        [
            _record(
                (sha, labels, splits[sha], e.where, i.size, i.format, i.width, i.height, e.locator)
            )
            for sha in sorted(labelled)
            for labels, e, i in (labelled[sha],)
        ]
    )
    unl = tuple(
        [
            _record((sha, (), "train", e.where, i.size, i.format, i.width, i.height, e.locator))
            for sha in sorted(unlabelled)
            if sha not in labelled
            for e, i in (unlabelled[sha],)
        ]
    )
    duplicates.extend(
        (labelled[sha][1].where, entry.where)
        for sha, (entry, _) in unlabelled.items()
        if sha in labelled
    )
    return Manifest(
        dataset=spec.name,
        multi_label=spec.multi_label,
        images=images,
        unlabelled=unl,
        duplicates=tuple(duplicates),
        warnings=tuple(warnings),
        source_kind=spec.source.kind,
    )


# An ImageRecord made by tuple.__new__ from C: the NamedTuple's __new__ is a Python function.
_record = partial(tuple.__new__, ImageRecord)
