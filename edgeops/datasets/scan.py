"""``scan_dataset``: read a dataset source, check everything, return its Manifest or raise.

Every problem of a source is collected first and raised as one ``DatasetError``; a source with
any problem yields nothing, so nothing from it can be half-imported. Nothing is ever written
except the hash cache.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from edgeops.config.model import DatasetSpec
from edgeops.datasets.csv_index import Row, read_rows
from edgeops.datasets.hashcache import HashCache, open_cache
from edgeops.datasets.images import (
    MAX_IMAGE_BYTES,
    Inspection,
    inspect_file,
    sha256_hex,
    size_error,
)
from edgeops.datasets.labels import (
    MIN_IMAGES_PER_LABEL,
    RECOMMENDED_IMAGES_PER_LABEL,
    is_valid_label,
)
from edgeops.datasets.manifest import ImageRecord, Manifest
from edgeops.datasets.parallel import map_parallel
from edgeops.datasets.problems import Problems
from edgeops.datasets.sources import Entry, FileStat, display_path, label_layout, walk_folder
from edgeops.datasets.split import assign_splits
from edgeops.datasets.zipsource import PROGRESS_MIN, ZipScan, scan_zip
from edgeops.errors import DatasetError
from edgeops.progress import Reporter

Found = list[tuple[Entry, Inspection]]


class RemoteReader(Protocol):
    """Reads csv-source rows whose URI starts with ``scheme`` (e.g. ``gs://``) without
    downloading them: a backend supplies it (the google backend for Cloud Storage)."""

    scheme: str

    def inspect(self, rows: list[Row], problems: Problems) -> dict[str, Inspection]:
        """URI -> accepted Inspection, whose ``sha256`` is the row's identity key (for the
        manifest, split and fingerprint); each rejected row goes to ``problems`` by its
        ``row.where``."""
        ...


def scan_dataset(
    spec: DatasetSpec,
    *,
    root: Path,
    cache_path: Path,
    reporter: Reporter,
    remote: RemoteReader | None = None,
) -> Manifest:
    """The validated, content-hashed Manifest of ``spec``'s source; raises DatasetError."""
    _found, manifest = scan_source(
        spec,
        root=root,
        cache_path=cache_path,
        reporter=reporter,
        problems=Problems(),
        remote=remote,
    )
    return manifest


def scan_source(
    spec: DatasetSpec,
    *,
    root: Path,
    cache_path: Path,
    reporter: Reporter,
    problems: Problems,
    remote: RemoteReader | None = None,
) -> tuple[Found, Manifest]:
    """Every file the source holds (entry + inspection) and the Manifest built from them.

    Problems go to ``problems``: ``Problems`` raises one DatasetError listing them all; a
    subclass whose ``raise_if_any`` does nothing collects them instead (the review page).
    """
    src = spec.source
    shown = display_path(src.path, root)
    cache, why = open_cache(cache_path)
    if why:
        reporter.warn(why)
    ctx = _Ctx(spec, root, shown, cache, reporter, problems)
    ctx.remote = remote
    try:
        if src.kind == "zip":
            found, label_where = _scan_zip_source(ctx)
        elif src.kind == "folder":
            found, label_where = _scan_folder_source(ctx)
        elif src.kind == "csv":
            found, label_where = _scan_csv_source(ctx)
        elif src.kind == "images":
            found, label_where = _scan_images_source(ctx)
        else:  # the schema makes this unreachable
            raise DatasetError(f"datasets.{spec.name}: unknown source kind {src.kind!r}")
    finally:
        if cache is not None:
            cache.close()
            if cache.problem:
                reporter.warn(cache.problem)
    return found, _build_manifest(ctx, found, label_where)


class _Ctx:
    def __init__(
        self,
        spec: DatasetSpec,
        root: Path,
        shown: str,
        cache: HashCache | None,
        reporter: Reporter,
        problems: Problems,
    ) -> None:
        self.spec = spec
        self.root = root
        self.shown = shown
        self.cache = cache
        self.reporter = reporter
        self.problems = problems
        self.remote: RemoteReader | None = None  # csv rows with remote URIs (gs://)

    @property
    def description(self) -> str:
        return f"scanning dataset {self.spec.name}"


# sources


def _scan_zip_source(ctx: _Ctx) -> tuple[Found, dict[str, str]]:
    path = ctx.spec.source.path
    try:
        st = os.stat(path)
    except OSError:
        ctx.problems.add(ctx.shown, "zip file not found; fix source.zip in edgeops.yaml")
        return [], {}
    if not os.path.isfile(path):
        ctx.problems.add(ctx.shown, "not a file; use source.folder for a folder of label folders")
        return [], {}
    key = FileStat(os.path.normpath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    hit, stored = ctx.cache.load_zip(key) if ctx.cache is not None else (False, None)
    if hit and stored is not None:
        zscan = ZipScan.from_json(stored)
    else:
        previous = ZipScan.from_json(stored) if stored is not None else None
        zscan = scan_zip(
            path, reporter=ctx.reporter, description=ctx.description, previous=previous
        )
        if ctx.cache is not None:
            ctx.cache.store_zip(key, zscan.to_json())
    for entry, what in zscan.problems:
        ctx.problems.add(f"{ctx.shown}:{entry}" if entry else ctx.shown, what)
    found = [
        (Entry(m.name, f"{ctx.shown}:{m.name}", (m.label,)), m.inspection) for m in zscan.members
    ]
    return found, {label: f"{ctx.shown}:{folder}" for label, folder in zscan.label_dirs}


def _scan_folder_source(ctx: _Ctx) -> tuple[Found, dict[str, str]]:
    base = ctx.spec.source.path
    if not base.is_dir():
        what = "not a folder" if base.exists() else "folder not found"
        ctx.problems.add(ctx.shown, f"{what}; fix source.folder in edgeops.yaml")
        return [], {}
    files = walk_folder(base, ctx.root, ctx.problems)
    prefix = "" if ctx.shown == "." else ctx.shown + "/"
    layout = label_layout([rel for rel, _ in files], ctx.problems, prefix)
    stats = dict(files)
    inspected = _inspect_files(ctx, os.fspath(base), [stats[rel] for rel, _ in layout.labelled])
    found: Found = []
    for rel, label in layout.labelled:
        st = stats[rel]
        insp = inspected.get(st.path)
        if insp is not None:
            found.append((Entry(st.path, prefix + rel, (label,)), insp))
    return found, {label: prefix + folder for label, folder in layout.label_dirs.items()}


def _scan_csv_source(ctx: _Ctx) -> tuple[Found, dict[str, str]]:
    csv_path = ctx.spec.source.path
    if not csv_path.is_file():
        ctx.problems.add(ctx.shown, "CSV file not found; fix source.csv in edgeops.yaml")
        return [], {}
    rows = read_rows(
        csv_path,
        base=csv_path.parent,
        shown=ctx.shown,
        kind="csv",
        multi_label=ctx.spec.multi_label,
        dataset=ctx.spec.name,
        problems=ctx.problems,
        remote=ctx.remote.scheme if ctx.remote is not None else None,
    )
    scheme = ctx.remote.scheme if ctx.remote is not None else None
    remote_rows = [r for r in rows if scheme and r.path.lower().startswith(scheme)]
    if remote_rows:
        rows = [r for r in rows if not (scheme and r.path.lower().startswith(scheme))]
    stats: dict[str, FileStat] = {}
    for row in rows:
        if row.path not in stats:
            st = _stat(row.path, row.where, ctx.problems)
            if st is not None:
                stats[row.path] = st
    inspected = _inspect_files(ctx, os.fspath(csv_path), list(stats.values()))
    found: Found = []
    label_where: dict[str, str] = {}
    for row in rows:
        insp = inspected.get(row.path)
        for label in row.labels:
            label_where.setdefault(label, row.where)
        if insp is not None:
            entry = Entry(row.path, display_path(row.path, ctx.root), row.labels, row.where)
            found.append((entry, insp))
    if remote_rows:
        assert ctx.remote is not None
        accepted = ctx.remote.inspect(remote_rows, ctx.problems)
        for row in remote_rows:
            for label in row.labels:
                label_where.setdefault(label, row.where)
            if row.path in accepted:  # the URI is the locator: imported from where it is
                found.append((Entry(row.path, row.path, row.labels, row.where), accepted[row.path]))
    return found, label_where


def _scan_images_source(ctx: _Ctx) -> tuple[Found, dict[str, str]]:
    src = ctx.spec.source
    base = src.path
    if not base.is_dir():
        what = "not a folder" if base.exists() else "folder not found"
        ctx.problems.add(ctx.shown, f"{what}; fix source.images in edgeops.yaml")
        return [], {}
    files = walk_folder(base, ctx.root, ctx.problems)
    labels_real = os.path.realpath(src.labels_file) if src.labels_file else ""
    stats = {st.path: st for _, st in files if os.path.realpath(st.path) != labels_real}

    rows: list[Row] = []
    if src.labels_file is not None:
        lf_shown = display_path(src.labels_file, ctx.root)
        if not src.labels_file.is_file():
            ctx.problems.add(
                lf_shown, "labels file not found; fix source.labels_file in edgeops.yaml"
            )
        else:
            rows = read_rows(
                src.labels_file,
                base=base,
                shown=lf_shown,
                kind="images",
                multi_label=ctx.spec.multi_label,
                dataset=ctx.spec.name,
                problems=ctx.problems,
            )
    labels_of: dict[str, tuple[str, ...]] = {}
    origin_of: dict[str, str] = {}
    label_where: dict[str, str] = {}
    for row in rows:
        if row.path not in stats:
            base_real = os.path.realpath(base)
            real = os.path.realpath(row.path)
            inside = real.startswith(base_real.rstrip(os.sep) + os.sep)
            what = (
                "is hidden or was rejected while listing the images folder"
                if inside
                else "is outside the images folder"
            )
            ctx.problems.add(
                row.where,
                f"{row.path} {what}; list only images inside {display_path(base, ctx.root)}/",
            )
            continue
        for label in row.labels:
            label_where.setdefault(label, row.where)
        if row.path in labels_of:
            merged = tuple(sorted(set(labels_of[row.path]) | set(row.labels)))
            if len(merged) > 1 and not ctx.spec.multi_label:
                ctx.problems.add(
                    row.where,
                    f"{display_path(row.path, ctx.root)} is also "
                    f"labelled on {origin_of[row.path]} with other "
                    "labels; keep one row per image",
                )
                continue
            labels_of[row.path] = merged
        else:
            labels_of[row.path] = row.labels
            origin_of[row.path] = row.where

    inspected = _inspect_files(ctx, os.fspath(base), list(stats.values()))
    found: Found = []
    for path, insp in inspected.items():
        entry = Entry(
            path, display_path(path, ctx.root), labels_of.get(path, ()), origin_of.get(path, "")
        )
        found.append((entry, insp))
    found.sort(key=lambda item: item[0].where)
    return found, label_where


def _stat(path: str, where: str, problems: Problems) -> FileStat | None:
    try:
        st = os.stat(path)
    except OSError as e:
        problems.add(where, f"cannot read {path}: {e.strerror or e}")
        return None
    return FileStat(path, st.st_size, st.st_mtime_ns, st.st_ino)


def _inspect_files(ctx: _Ctx, scope: str, stats: list[FileStat]) -> dict[str, Inspection]:
    """path -> accepted Inspection; rejections go to ctx.problems. Uses and fills the cache."""
    cached = ctx.cache.load_files(scope) if ctx.cache is not None else {}
    results: dict[str, Inspection] = {}
    misses: list[FileStat] = []
    for st in stats:
        err = size_error(st.size)  # never read a file that is too large (or empty)
        if err:
            results[st.path] = Inspection(size=st.size, error=err)
            continue
        hit = cached.get(st.path)
        if hit is not None and hit.matches(st):
            results[st.path] = hit.inspection
        else:
            misses.append(st)
    if misses:
        paths = [st.path for st in misses]
        if len(misses) >= PROGRESS_MIN:
            with ctx.reporter.task(ctx.description, len(misses)) as task:
                fresh = map_parallel(inspect_file, paths, task=task)
        else:
            fresh = map_parallel(inspect_file, paths)
        results.update(zip(paths, fresh, strict=True))
    if ctx.cache is not None:
        current = {st.path for st in stats}
        forget = [p for p in cached if p not in current]
        if misses or forget:
            ctx.cache.store_files(scope, ((st, results[st.path]) for st in misses), forget)

    accepted: dict[str, Inspection] = {}
    for st in stats:
        insp = results[st.path]
        if insp.error:
            ctx.problems.add(display_path(st.path, ctx.root), insp.error)
        else:
            accepted[st.path] = insp
    return accepted


# manifest


def _build_manifest(ctx: _Ctx, found: Found, label_where: dict[str, str]) -> Manifest:
    spec, problems = ctx.spec, ctx.problems
    groups: dict[str, list[tuple[Entry, Inspection]]] = {}
    for entry, insp in found:
        groups.setdefault(insp.sha256, []).append((entry, insp))

    labelled: dict[str, tuple[tuple[str, ...], Entry, Inspection]] = {}
    unlabelled: dict[str, tuple[Entry, Inspection]] = {}
    duplicates: list[tuple[str, str]] = []
    for sha, items in groups.items():
        if len(items) == 1:  # the common case, kept cheap for 100k-image datasets
            e, i = items[0]
            if e.labels:
                labelled[sha] = (e.labels, e, i)
            else:
                unlabelled[sha] = (e, i)
            continue
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
        problems.add(
            ctx.shown, "no labelled images; add images (one folder per label) or label them"
        )
    problems.raise_if_any(spec.name, ctx.shown)

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

    splits = assign_splits(((sha, v[0]) for sha, v in labelled.items()), spec.split)
    images = tuple(
        _record(sha, labels, splits[sha], entry, insp)
        for sha, (labels, entry, insp) in sorted(labelled.items())
    )
    unl = tuple(
        _record(sha, (), "train", entry, insp)
        for sha, (entry, insp) in sorted(unlabelled.items())
        if sha not in labelled
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


def _record(
    sha: str, labels: tuple[str, ...], split: str, entry: Entry, insp: Inspection
) -> ImageRecord:
    return ImageRecord(
        sha256=sha,
        labels=labels,
        split=split,
        source=entry.where,
        size=insp.size,
        format=insp.format,
        width=insp.width,
        height=insp.height,
        locator=entry.locator,
    )


# reading images back (for the importer)


def iter_image_bytes(
    spec: DatasetSpec, records: Iterable[ImageRecord], *, root: Path
) -> Iterator[tuple[ImageRecord, bytes]]:
    """(record, original bytes) for each record, opening a zip source once. Each image's bytes
    are checked against its sha256: a source changed since the scan raises DatasetError."""
    src = spec.source
    shown = display_path(src.path, root)
    zf = zipfile.ZipFile(src.path) if src.kind == "zip" else None
    try:
        for rec in records:
            try:
                if zf is not None:
                    with zf.open(rec.locator) as f:
                        data = f.read(MAX_IMAGE_BYTES + 1)
                else:
                    with open(rec.locator, "rb") as fh:
                        data = fh.read(MAX_IMAGE_BYTES + 1)
            except (OSError, KeyError, zipfile.BadZipFile) as e:
                raise DatasetError(
                    f"datasets.{spec.name}: {shown}: 1 problem\n  {rec.source}: cannot read "
                    f"it any more ({e}); run edgeops plan again"
                ) from e
            if sha256_hex(data) != rec.sha256:
                raise DatasetError(
                    f"datasets.{spec.name}: {shown}: 1 problem\n  {rec.source}: changed since "
                    "it was scanned; run edgeops plan again"
                )
            yield rec, data
    finally:
        if zf is not None:
            zf.close()


def open_image(spec: DatasetSpec, record: ImageRecord, *, root: Path) -> bytes:
    """The original bytes of one image (verified against its sha256)."""
    for _, data in iter_image_bytes(spec, [record], root=root):
        return data
    raise AssertionError("unreachable")  # iter_image_bytes yields once per record
