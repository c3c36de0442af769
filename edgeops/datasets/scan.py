"""``scan_dataset``: read a dataset source, check everything, return its Manifest or raise.

One reader per source kind (zip, folder, csv, images) lists the source's images with their
labels and inspects each (through the hash cache); the source's labels overrides file, if any,
is applied on top (``overrides.py``); ``assemble.py`` then checks them as a whole and builds
the Manifest. Every problem of a source is collected first and raised as one
``DatasetError``; a source with any problem yields nothing, so nothing from it can be
half-imported. Nothing is ever written except the hash cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from edgeops.config.model import DatasetSpec
from edgeops.datasets import deferred, snapshot
from edgeops.datasets.assemble import assemble_manifest
from edgeops.datasets.csv_index import Row, read_rows
from edgeops.datasets.hashcache import CachedFile, HashCache, StoredSnapshot, open_cache
from edgeops.datasets.images import Inspection, inspect_paths, opened, size_error
from edgeops.datasets.manifest import Manifest
from edgeops.datasets.overrides import Applied, apply_overrides, read_overrides, source_path
from edgeops.datasets.parallel import PHOTO_BYTES, Prefetch, map_processes
from edgeops.datasets.problems import Problems
from edgeops.datasets.rules import DataRules
from edgeops.datasets.sources import (
    Entry,
    FileStat,
    Found,
    Listed,
    display_path,
    label_layout,
    walk_folder,
)
from edgeops.datasets.split import NearGroups
from edgeops.datasets.zipsource import PROGRESS_MIN, ZipScan, scan_zip
from edgeops.errors import DatasetError
from edgeops.gcpause import pausing
from edgeops.progress import Reporter


class RemoteReader(Protocol):
    """Reads csv-source rows whose URI starts with ``scheme`` (e.g. ``gs://``) without
    downloading them: a backend supplies it (the google backend for Cloud Storage)."""

    scheme: str

    def inspect(self, rows: list[Row], problems: Problems) -> dict[str, Inspection]:
        """URI -> accepted Inspection, whose ``sha256`` is the row's identity key (for the
        manifest, split and fingerprint); each rejected row goes to ``problems`` by its
        ``row.where``."""
        ...

    def read(self, uri: str, key: str) -> bytes | None:
        """The bytes of ``uri`` while its identity key is still ``key``; None when it is gone
        or changed since the scan (for ``edgeops review``'s thumbnails)."""
        ...


@pausing
def scan_dataset(
    spec: DatasetSpec,
    *,
    root: Path,
    cache_path: Path,
    reporter: Reporter,
    remote: RemoteReader | None = None,
    rules: DataRules | None = None,
    near: NearGroups | None = None,
) -> Manifest:
    """The validated, content-hashed Manifest of ``spec``'s source; raises DatasetError.

    ``remote`` reads csv rows with remote URIs; ``rules`` are what the backend's trainer
    refuses beyond edgeops' own rules (both from the backend; None where it has none);
    ``near`` finds near-duplicate groups for ``split.group_near_duplicates``.
    A folder source that has not changed since its last clean scan is not even listed
    (``snapshot.py``), unless near-duplicate groups place its images: those come from cached
    image features, which change without any file changing."""
    folder = spec.source.kind == "folder" and near is None
    scope = os.fspath(spec.source.path)
    inputs = snapshot.inputs_key(spec, display_path(spec.source.path, root), os.fspath(root))
    if folder:
        kept = _kept_manifest(cache_path, scope, inputs, reporter, rules)
        if kept is not None:
            return kept
    listing: list[Listed] | None = [] if folder else None
    read: dict[str, tuple[Any, ...]] = {}
    walk_start_ns = time.time_ns()
    manifest = scan_source(
        spec,
        root=root,
        cache_path=cache_path,
        reporter=reporter,
        problems=Problems(),
        remote=remote,
        rules=rules,
        near=near,
        listing=listing,
        read=read,
    ).manifest  # a source with problems raised: its old snapshot, if any, can no longer match
    if listing is not None:
        # for the next scan only: a large one's is written by a child while this run goes on
        manifest.fingerprint()  # this run needs it too: computed before the child, not twice

        def keep() -> str:
            folders = [_with_stats(d, read) for d in listing]  # a lazy walk's, filled in
            made = snapshot.make(inputs, folders, walk_start_ns, manifest)
            return _keep_snapshot(cache_path, scope, made)

        deferred.run(cache_path, len(manifest.images) + len(manifest.unlabelled), reporter, keep)
    return manifest


def _kept_manifest(
    cache_path: Path, scope: str, inputs: str, reporter: Reporter, rules: DataRules | None
) -> Manifest | None:
    """The folder source's Manifest from its snapshot, if nothing it depends on changed."""
    deferred.wait(cache_path)  # a snapshot this process is still writing is read once written
    cache, _ = open_cache(cache_path)  # scan_source says why when it is unusable
    if cache is None:
        return None
    with cache:
        manifest = snapshot.reuse(cache.load_snapshot(scope), inputs, rules)
        if cache.problem:
            reporter.warn(cache.problem)
    return manifest


def _keep_snapshot(cache_path: Path, scope: str, made: StoredSnapshot | None) -> str:
    """Store the fresh snapshot, or none (the stale one is dropped); what went wrong, or ""."""
    cache, _ = open_cache(cache_path)
    if cache is None:
        return ""  # scan_source said why
    with cache:
        cache.store_snapshot(scope, made)
        return cache.problem


class SourceScan(NamedTuple):
    found: Found  # every accepted file, with its labels as the source says them
    manifest: Manifest  # after the overrides
    overrides: Applied  # what the labels overrides file changed (empty without one)


@pausing
def scan_source(
    spec: DatasetSpec,
    *,
    root: Path,
    cache_path: Path,
    reporter: Reporter,
    problems: Problems,
    remote: RemoteReader | None = None,
    rules: DataRules | None = None,
    near: NearGroups | None = None,
    listing: list[Listed] | None = None,
    read: dict[str, tuple[Any, ...]] | None = None,
) -> SourceScan:
    """Every file the source holds (entry + inspection), the Manifest built from them, and what
    the labels overrides file changed.

    Problems go to ``problems``: ``Problems`` raises one DatasetError listing them all; a
    subclass whose ``raise_if_any`` does nothing collects them instead (the review page).
    ``listing`` gets the folders a folder source's walk listed, ``read`` the row of each file it
    read (``images.inspect_path``: its stat as its reader took it, then its Inspection).
    """
    src = spec.source
    shown = display_path(src.path, root)
    cache, why = open_cache(cache_path)
    if why:
        reporter.warn(why)
    ctx = _Ctx(spec, root, shown, cache, reporter, problems)
    ctx.remote = remote
    ctx.listing = listing
    ctx.read = read
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
    effective, applied = found, Applied()
    if src.labels_override is not None:
        rows = read_overrides(
            src.labels_override,
            shown=display_path(src.labels_override, root),
            multi_label=spec.multi_label,
            dataset=spec.name,
            problems=problems,
        )
        effective, applied = apply_overrides(
            found, rows, lambda e: source_path(src.kind, src.path, e.locator), problems=problems
        )
        for row in applied.by_sha.values():
            for label in row.labels:
                label_where.setdefault(label, row.where)
    manifest = assemble_manifest(
        spec, effective, label_where, shown=shown, problems=problems, rules=rules, near=near
    )
    if applied.warnings:
        manifest = dataclasses.replace(manifest, warnings=manifest.warnings + applied.warnings)
    return SourceScan(found, manifest, applied)


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
        self.listing: list[Listed] | None = None  # gets a folder source's listed folders
        self.read: dict[str, tuple[Any, ...]] | None = None  # path -> a reader's row

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
    scope = os.fspath(base)
    cached = ctx.cache.load_files(scope) if ctx.cache is not None else {}
    # Nothing cached (a first scan): every file is read, and the worker that reads one stats
    # it, so the walk need not (``walk_folder(lazy=True)``).
    lazy = not cached
    # A large first scan starts inspecting each label folder's files while the walk goes on
    # to the next (files of no label are inspected for nothing, and not kept).
    with Prefetch(inspect_paths) as prefetch:

        def offer(found: list[FileStat]) -> None:
            prefetch.offer([st.path for st in found if _needs_reading(st, cached)])

        files = walk_folder(base, ctx.root, ctx.problems, ctx.listing, on_files=offer, lazy=lazy)
        prefix = "" if ctx.shown == "." else ctx.shown + "/"
        layout = label_layout([rel for rel, _ in files], ctx.problems, prefix)
        stats = dict(files)
        labelled = [stats[rel] for rel, _ in layout.labelled]
        # the rows read fill in the stats a lazy walk did not take
        read = ctx.read if lazy else None
        inspected = _inspect_files(
            ctx, scope, labelled, cached=cached, prefetch=prefetch, read=read
        )
    found: Found = []
    one = {label: (label,) for label in layout.label_dirs}  # one labels tuple per label
    entry = partial(tuple.__new__, Entry)  # from C: a NamedTuple's __new__ is Python
    for rel, label in layout.labelled:
        path = stats[rel].path
        insp = inspected.get(path)
        if insp is not None:
            found.append((entry((path, prefix + rel, one[label], "")), insp))
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


def _with_stats(d: Listed, read: dict[str, tuple[Any, ...]]) -> Listed:
    """A folder of a lazy walk with the stats of its files as the scan read them (``read``:
    path -> its reader's row, which starts with them); a file not read (or that could not be
    opened) leaves the folder untrusted (no snapshot)."""
    if d.stats is not None:
        return d
    stats: list[int] = []
    for name in d.names:
        row = read.get(d.path + name)
        if row is None or not opened(row):
            return d._replace(stats=(), plain=False)
        stats += row[:3]
    return d._replace(stats=tuple(stats))


def _needs_reading(st: FileStat, cached: dict[str, CachedFile]) -> bool:
    """Whether ``st``'s bytes must be inspected: not too large (or empty), not in the cache.
    A file the walk did not stat always is (its reader refuses it by size if need be)."""
    if not st.known:
        return True
    if size_error(st.size):
        return False
    hit = cached.get(st.path)
    return hit is None or not hit.matches(st)


def _inspect_files(
    ctx: _Ctx,
    scope: str,
    stats: list[FileStat],
    *,
    cached: dict[str, CachedFile] | None = None,
    prefetch: Prefetch[str, tuple[Any, ...]] | None = None,
    read: dict[str, tuple[Any, ...]] | None = None,
) -> dict[str, Inspection]:
    """path -> accepted Inspection; rejections go to ctx.problems. Uses and fills the cache.

    ``cached``: the cache's rows of ``scope`` when the caller read them already; ``prefetch``:
    where the caller started inspecting (some of) the misses already; ``read`` gets the row of
    every file read (``images.inspect_path``: (size, mtime_ns, inode) as its reader stat'ed it,
    zeros when it could not be opened, then its Inspection). A file of unknown stat
    (``FileStat.known``) is read."""
    if cached is None:
        cached = ctx.cache.load_files(scope) if ctx.cache is not None else {}
    results: dict[str, Inspection] = {}
    misses: list[FileStat] = []
    for st in stats:
        if st.known:
            err = size_error(st.size)  # never read a file that is too large (or empty)
            if err:
                results[st.path] = Inspection(size=st.size, error=err)
                continue
            hit = cached.get(st.path)
            if hit is not None and hit.matches(st):
                results[st.path] = hit.inspection
                continue
        misses.append(st)
    keeper = _CacheKeeper(ctx.cache, scope, misses, results, read)
    if misses:
        paths = [st.path for st in misses]
        with contextlib.ExitStack() as stack:
            task = None
            if len(misses) >= PROGRESS_MIN:
                task = stack.enter_context(ctx.reporter.task(ctx.description, len(misses)))
            try:
                done = prefetch.take(task, keeper.add) if prefetch is not None else {}
                rest = [p for p in paths if p not in done]
                map_processes(
                    inspect_paths,
                    rest,
                    task=task,
                    threads=_photos(misses),
                    on_chunk=keeper.add,
                )
            except BaseException:  # an interrupt, or a worker died: keep what was read
                keeper.flush()
                raise
    if ctx.cache is not None:
        current = {st.path for st in stats} if cached else set()
        keeper.flush(forget=[p for p in cached if p not in current])

    accepted: dict[str, Inspection] = {}
    for st in stats:
        insp = results[st.path]
        if insp.error:
            ctx.problems.add(display_path(st.path, ctx.root), insp.error)
        else:
            accepted[st.path] = insp
    return accepted


def _photos(misses: list[FileStat]) -> bool:
    """Whether the files to read are photos (a mean size of ``PHOTO_BYTES`` or more), whose
    decoding releases the GIL: a few hundred of them go on threads; opening thumbnails is
    mostly Python, which threads only fight over (bench/plan_scaling.py). Files a lazy walk did
    not stat are sized from a sample."""
    sizes = [st.size for st in misses if st.known]
    if len(sizes) < len(misses):
        for st in misses[:: max(1, len(misses) // 32)]:
            if not st.known:
                with contextlib.suppress(OSError):
                    sizes.append(os.stat(st.path).st_size)
    return bool(sizes) and sum(sizes) >= PHOTO_BYTES * len(sizes)


# An Inspection from a reader's row, by C code (a NamedTuple's _make is a Python function)
_inspection = partial(tuple.__new__, Inspection)


class _CacheKeeper:
    """Takes the readers' results as each chunk comes in: the Inspections, the stats they
    read, and the cache rows, stored in batches so that the cache writes overlap the
    inspection still going on, and an interrupted scan keeps what it read."""

    BATCH = 8192  # rows per batch at least: a scan of N files stores about N / BATCH ...
    BATCHES = 16  # ... but at most this many: past ``hashcache.MAX_SETS`` a scope is rewritten
    # as one, every row in memory (a cold plan of 300k files peaked at 741 MB, 512 without)

    def __init__(
        self,
        cache: HashCache | None,
        scope: str,
        misses: list[FileStat],
        results: dict[str, Inspection],
        read: dict[str, tuple[Any, ...]] | None,
    ) -> None:
        self.cache = cache
        self.scope = scope
        self.wanted = {st.path for st in misses}
        self.batch = max(self.BATCH, -(-len(misses) // self.BATCHES))
        self.results = results
        self.read = read
        self.pending: list[tuple[str, tuple[Any, ...]]] = []  # (path, a reader's row)

    def add(self, paths: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """``inspect_paths``'s rows of ``paths``: (size, mtime_ns, inode, *Inspection)."""
        wanted = self.wanted
        results = self.results
        read = self.read
        pending = self.pending if self.cache is not None else None
        for path, row in zip(paths, rows, strict=True):
            if path not in wanted:  # a prefetched file of no label: not kept
                continue
            results[path] = _inspection(row[3:])
            if read is not None:
                read[path] = row
            # a file that could not be opened has no stat to key its row: read again next time
            if pending is not None and opened(row):
                pending.append((path, row))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self, forget: list[str] | None = None) -> None:
        if self.cache is not None and (self.pending or forget):
            self.cache.store_files(self.scope, self.pending, forget or ())
        self.pending = []
