"""What every source reader produces, the label-folder layout, and the safe folder walk.

Layout of a structured zip or folder (AutoML Vision Edge's "one folder per label"):

- ``LABEL/IMAGE``: the image gets label ``LABEL``;
- one common root folder is tolerated (``flowers/LABEL/IMAGE``, as made by "compress folder");
- ignored anywhere: ``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``, and names
  starting with ``.`` (``.gitkeep``, ``._IMG.jpg``, ``.git/``);
- a file at the top level, or in a folder nested inside a label folder, is an error.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from edgeops.datasets.images import Inspection
from edgeops.datasets.labels import is_valid_label, label_problem, rename_hint
from edgeops.datasets.problems import Problems

JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"})


class Entry(NamedTuple):
    """One image occurrence in a source, before its bytes are inspected."""

    locator: str  # zip member name, or the file's absolute (normalised, unresolved) path
    where: str  # display name for messages and ImageRecord.source
    labels: tuple[str, ...]  # sorted; () = unlabelled
    origin: str = ""  # where the labels were declared, if not ``where`` (e.g. "labels.csv:7")

    def describe(self) -> str:
        return self.where if not self.origin else f"{self.origin} ({self.where})"


Found = list[tuple[Entry, Inspection]]  # what a source scan found: each image, inspected


class FileStat(NamedTuple):
    """A file to inspect, with the stat fields that key the hash cache."""

    path: str  # absolute
    size: int  # -1 (and mtime_ns, inode): not stat'ed yet (``walk_folder(lazy=True)``)
    mtime_ns: int
    inode: int

    @property
    def known(self) -> bool:
        return self.size >= 0


def display_path(path: Path | str, root: Path) -> str:
    """``path`` relative to the config root when inside it, else absolute (posix style)."""
    p = os.path.normpath(os.fspath(path))
    r = os.path.normpath(os.fspath(root))
    if p == r:
        return "."
    prefix = r if r.endswith(os.sep) else r + os.sep
    rel = p[len(prefix) :] if p.startswith(prefix) else p
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def is_junk(relpath: str) -> bool:
    return any(part in JUNK_NAMES or part.startswith(".") for part in relpath.split("/"))


@dataclass(frozen=True)
class Layout:
    labelled: tuple[tuple[str, str], ...]  # (relpath, label), in input order
    label_dirs: dict[str, str]  # label -> its folder relpath ("animal/" or "root/animal/")


def label_layout(relpaths: list[str], problems: Problems, where: str) -> Layout:
    """Assign labels from the top folder of each (posix, non-junk) relpath.

    ``where`` prefixes relpaths in messages (e.g. ``"data/x.zip:"`` or ``"data/objects/"``).
    """
    root = ""
    parts_of = [p.split("/") for p in relpaths]
    firsts = {parts[0] for parts in parts_of}
    if len(firsts) == 1 and any(len(parts) >= 3 for parts in parts_of):
        root = next(iter(firsts)) + "/"
        parts_of = [parts[1:] for parts in parts_of]

    labelled: list[tuple[str, str]] = []
    label_dirs: dict[str, str] = {}
    top_files: list[str] = []
    nested: dict[str, int] = defaultdict(int)
    for rel, parts in zip(relpaths, parts_of, strict=True):
        if len(parts) == 1:
            top_files.append(rel)
        elif len(parts) > 2:
            nested[root + "/".join(parts[:-1]) + "/"] += 1
        else:
            label_dirs.setdefault(parts[0], root + parts[0] + "/")
            labelled.append((rel, parts[0]))

    for rel in top_files:
        problems.add(
            where + rel,
            "file outside any label folder; move it into the folder of its label "
            "(one folder per label) or remove it",
        )
    for folder, count in nested.items():
        label = folder[len(root) :].split("/")[0]
        problems.add(
            where + folder,
            f"nested folder ({count} file{'s' if count != 1 else ''}); put images directly in "
            f"their label folder '{root}{label}/'",
        )
    for label, folder in label_dirs.items():
        if not is_valid_label(label):
            problems.add(
                where + folder,
                f"{label_problem(label)}; rename the folder{rename_hint(label)}",
            )
    return Layout(tuple(labelled), label_dirs)


class Listed(NamedTuple):
    """One folder as ``walk_folder`` listed it: its key, and the files it held (for
    ``snapshot.py``, which skips listing a folder whose key is unchanged)."""

    path: str  # as walked, with a trailing separator
    inode: int
    mtime_ns: int
    names: tuple[str, ...]  # the regular files it holds, sorted (junk left out)
    # (size, mtime_ns, inode) of each of ``names``, flattened; None from a ``lazy`` walk until
    # the scan fills them in with the stats of the files it read
    stats: tuple[int, ...] | None
    plain: bool  # no symlink, nothing rejected: the names say everything the walk saw


def walk_folder(
    base: Path,
    root: Path,
    problems: Problems,
    listing: list[Listed] | None = None,
    on_files: Callable[[list[FileStat]], None] | None = None,
    *,
    lazy: bool = False,
) -> list[tuple[str, FileStat]]:
    """Every non-junk file under ``base`` as (posix relpath, FileStat), sorted by relpath.

    Symlinks are followed only when they resolve inside ``base``; one that points outside (or
    nowhere) is a problem. Folder symlinks are followed once (no loops). ``listing``, when
    given, gets every folder walked (see ``Listed``); ``on_files`` gets each folder's files as
    soon as it is listed (a scan starts inspecting them while the walk goes on).

    ``lazy``: a regular file (by its directory entry's type) is not stat'ed: its FileStat has
    size, mtime_ns and inode -1 (``FileStat.known`` is False), and its folder's ``Listed.stats``
    is None. For a first scan, whose readers stat each file as they open it: the walk of 100k
    files is then half its cost.
    """
    base_real = os.path.realpath(base)
    base_norm = os.path.normpath(base)
    base_prefix = base_norm if base_norm.endswith(os.sep) else base_norm + os.sep
    out: list[tuple[str, FileStat]] = []
    visited: set[str] = {base_real}

    def inside(real: str) -> bool:
        return real == base_real or real.startswith(base_real.rstrip(os.sep) + os.sep)

    def walk(folder: str, rel_prefix: str) -> None:
        try:
            key = os.stat(folder) if listing is not None else None
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError as e:
            problems.add(display_path(folder, root), f"cannot list folder: {e.strerror or e}")
            return
        names: list[str] = []
        stats: list[int] = []
        found: list[FileStat] = []
        plain = True
        for d in items:
            if d.name in JUNK_NAMES or d.name.startswith("."):
                continue
            rel = rel_prefix + d.name
            if lazy and d.is_file(follow_symlinks=False):  # no stat: the entry's type says it
                fst = FileStat(base_prefix + rel, -1, -1, -1)
                out.append((rel, fst))
                found.append(fst)
                names.append(d.name)
                continue
            if d.is_symlink():
                plain = False
                shown = display_path(d.path, root)
                real = os.path.realpath(d.path)
                if not inside(real):
                    problems.add(
                        shown,
                        f"symlink points outside the dataset folder (to {real}); copy the file "
                        "into the folder instead of linking to it",
                    )
                    continue
                if not os.path.exists(real):
                    problems.add(shown, "broken symlink; remove it or fix its target")
                    continue
            try:
                st = d.stat(follow_symlinks=True)
            except OSError as e:
                problems.add(display_path(d.path, root), f"cannot read: {e.strerror or e}")
                plain = False
                continue
            if stat_mod.S_ISDIR(st.st_mode):
                real = os.path.realpath(d.path)
                if real in visited:
                    plain = False
                    continue
                visited.add(real)
                walk(d.path, rel + "/")
            elif stat_mod.S_ISREG(st.st_mode):
                fst = FileStat(base_prefix + rel, st.st_size, st.st_mtime_ns, st.st_ino)
                out.append((rel, fst))
                found.append(fst)
                names.append(d.name)
                stats += (st.st_size, st.st_mtime_ns, st.st_ino)
            else:
                problems.add(display_path(d.path, root), "not a regular file; remove it")
                plain = False
        if on_files is not None and found:
            on_files(found)
        if listing is not None and key is not None:
            path = folder if folder.endswith(os.sep) else folder + os.sep
            known = None if lazy else tuple(stats)
            listing.append(Listed(path, key.st_ino, key.st_mtime_ns, tuple(names), known, plain))

    walk(base_norm, "")
    out.sort(key=lambda item: item[0])
    return out
