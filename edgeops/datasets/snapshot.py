"""The warm plan's shortcut: a folder source's Manifest, reused while nothing under it changed.

After a folder source scanned cleanly, its snapshot is kept in the hash cache:

- every folder walked: its path, (inode, mtime_ns) and the files it held;
- every file's (size, mtime_ns, inode), the key the per-file hash cache uses;
- what else the Manifest depends on (``inputs``): the dataset's name, multi_label and split,
  where the source is shown from, the labels overrides file's stat;
- the Manifest itself (columns of JSON) and its fingerprint.

The next scan stats each folder and compares (inode, mtime_ns), and stats each file it held,
without listing any folder: adding, removing or renaming an entry changes its folder's
mtime_ns, rewriting a file changes its own stat (size, mtime_ns or inode, as for the per-file
cache). When all match, the stored Manifest is returned without reading, listing or building a
per-file record; anything else falls back to the full scan (which still skips unchanged files
through the per-file cache) and stores a fresh snapshot.

Not kept (so always scanned in full): a source with a folder whose mtime_ns is within
``RACY_NS`` of the walk (a change in the same clock tick would not move it: git's "racy" rule),
or holding a symlink or an entry the walk rejected. A backend's ``DataRules`` are asked again
for the stored labels and formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from edgeops import fastjson
from edgeops.config.model import SPLITS, DatasetSpec
from edgeops.datasets.hashcache import StoredSnapshot
from edgeops.datasets.manifest import ImageRecord, Manifest
from edgeops.datasets.rules import DataRules
from edgeops.datasets.sources import Listed

VERSION = 2  # bump when the scan's checks, the Manifest's shape or the stored form change
RACY_NS = 2_000_000_000  # a folder changed this close to the walk is not trusted (FAT: 2 s)


def inputs_key(spec: DatasetSpec, shown: str, root: str) -> str:
    """Everything but the files that the folder source's Manifest depends on."""
    src = spec.source
    override: list[Any] | None = None
    if src.labels_override is not None:
        try:
            st = os.stat(src.labels_override)
            override = [os.fspath(src.labels_override), st.st_size, st.st_mtime_ns, st.st_ino]
        except OSError:
            override = [os.fspath(src.labels_override)]
    return json.dumps(
        [
            VERSION,
            spec.name,
            spec.multi_label,
            repr(spec.split),
            src.kind,
            os.fspath(src.path),
            shown,
            root,
            override,
        ]
    )


def unchanged(folders: Sequence[Sequence[Any]], stats: list[int]) -> bool:
    """Whether every folder still has its (inode, mtime_ns) and its files their stats."""
    got: list[int] = []
    stat = os.stat
    try:
        for path, inode, mtime_ns, names in folders:
            st = stat(path)
            if st.st_ino != inode or st.st_mtime_ns != mtime_ns:
                return False
            for name in names:
                st = stat(path + name)
                got += (st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        return False
    return got == stats


def encode_listing(listing: Sequence[Listed], walk_start_ns: int) -> tuple[str, str] | None:
    """(folders, stats) as stored, or None when a folder cannot be trusted (see the module)."""
    folders = []
    stats: list[int] = []
    for d in listing:
        if not d.plain or d.stats is None or d.mtime_ns >= walk_start_ns - RACY_NS:
            return None
        folders.append([d.path, d.inode, d.mtime_ns, d.names])
        stats.extend(d.stats)
    return fastjson.dumps(folders), fastjson.dumps(stats)


def reusable(manifest: Manifest, rules: DataRules | None) -> bool:
    """Whether the backend's rules still take every label and format of a stored Manifest."""
    if rules is None:
        return True
    labels = {label for rec in manifest.images for label in rec.labels}
    formats = {rec.format for recs in (manifest.images, manifest.unlabelled) for rec in recs}
    return not any(rules.label_problem(label) for label in labels) and not any(
        rules.format_problem(fmt) for fmt in formats
    )


# the Manifest as columns of JSON: parsed in C, rebuilt with one map() per column set


def encode_manifest(manifest: Manifest) -> str:
    return fastjson.dumps(
        {
            "dataset": manifest.dataset,
            "multi_label": manifest.multi_label,
            "images": _columns(manifest.images),
            "unlabelled": _columns(manifest.unlabelled),
            "duplicates": manifest.duplicates,
            "warnings": manifest.warnings,
            "source_kind": manifest.source_kind,
            "fingerprint": manifest.fingerprint(),
        }
    )


def decode_manifest(text: str) -> Manifest:
    """The Manifest ``encode_manifest`` stored; raises ValueError/KeyError/TypeError/IndexError
    on anything else."""
    data = fastjson.loads(text)
    manifest = Manifest(
        dataset=str(data["dataset"]),
        multi_label=bool(data["multi_label"]),
        images=_records(data["images"]),
        unlabelled=_records(data["unlabelled"]),
        duplicates=tuple((str(a), str(b)) for a, b in data["duplicates"]),
        warnings=tuple(str(w) for w in data["warnings"]),
        source_kind=str(data["source_kind"]),
    )
    manifest.remember_fingerprint(str(data["fingerprint"]))
    return manifest


def _columns(records: Sequence[ImageRecord]) -> dict[str, Any]:
    if not records:
        return dict(_EMPTY)
    # a column at a time, each a C loop (zip(*records) over 100k records: twice the time)
    sha, labels, split, source, size, fmt, width, height, locator = (
        list(map(itemgetter(k), records)) for k in range(len(ImageRecord._fields))
    )
    # value -> its index in order of first use, then every row's index: C loops, no Python
    # call per row
    label_sets = {x: i for i, x in enumerate(dict.fromkeys(labels))}
    formats = {x: i for i, x in enumerate(dict.fromkeys(fmt))}
    label_idx = list(map(label_sets.__getitem__, labels))
    format_idx = list(map(formats.__getitem__, fmt))
    code = {name: str(i) for i, name in enumerate(SPLITS)}
    source_prefix = os.path.commonprefix(source)
    locator_prefix = os.path.commonprefix(locator)
    cut_source, cut_locator = len(source_prefix), len(locator_prefix)
    sources = [x[cut_source:] for x in source]
    locators: list[str] | None = [x[cut_locator:] for x in locator]
    if locators == sources:  # a folder's files: the same relative paths, stored once
        locators = None
    return {
        "sha256": sha,
        "label_sets": [list(k) for k in label_sets],
        "labels": label_idx,
        "split": "".join(map(code.__getitem__, split)),
        "source": [source_prefix, sources],
        "size": size,
        "formats": list(formats),
        "format": format_idx,
        "width": width,
        "height": height,
        "locator": [locator_prefix, locators],  # None: the source's suffixes
    }


_EMPTY: dict[str, Any] = {
    "sha256": [],
    "label_sets": [],
    "labels": [],
    "split": "",
    "source": ["", []],
    "size": [],
    "formats": [],
    "format": [],
    "width": [],
    "height": [],
    "locator": ["", []],
}


def _records(cols: dict[str, Any]) -> tuple[ImageRecord, ...]:
    label_sets = [tuple(str(x) for x in labels) for labels in cols["label_sets"]]
    formats = [str(f) for f in cols["formats"]]
    split_of = dict(zip("012", SPLITS, strict=True))
    source_prefix, sources = cols["source"]
    locator_prefix, locators = cols["locator"]
    if locators is None:
        locators = sources
    n = len(cols["sha256"])
    columns = (
        cols["labels"],
        cols["split"],
        sources,
        cols["size"],
        cols["format"],
        cols["width"],
        cols["height"],
        locators,
    )
    if any(len(c) != n for c in columns):
        raise ValueError("snapshot columns of different lengths")
    return tuple(
        map(
            ImageRecord,
            cols["sha256"],
            [label_sets[i] for i in cols["labels"]],
            [split_of[c] for c in cols["split"]],
            [source_prefix + s for s in sources],
            cols["size"],
            [formats[i] for i in cols["format"]],
            cols["width"],
            cols["height"],
            [locator_prefix + s for s in locators],
        )
    )


def reuse(stored: StoredSnapshot | None, inputs: str, rules: DataRules | None) -> Manifest | None:
    """The stored Manifest if nothing it depends on changed, else None."""
    if stored is None or stored.inputs != inputs:
        return None
    try:
        if not unchanged(fastjson.loads(stored.folders), fastjson.loads(stored.stats)):
            return None
        manifest = decode_manifest(stored.manifest)
    except (ValueError, KeyError, TypeError, IndexError):
        return None  # not what this version stores: scan in full, then replace it
    return manifest if reusable(manifest, rules) else None


def make(
    inputs: str, listing: Sequence[Listed], walk_start_ns: int, manifest: Manifest
) -> StoredSnapshot | None:
    """What to keep after a clean full scan (None: nothing, see the module)."""
    packed = encode_listing(listing, walk_start_ns)
    if packed is None:
        return None
    return StoredSnapshot(inputs, *packed, encode_manifest(manifest))
