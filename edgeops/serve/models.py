"""What is served: published models read from the local registry, loaded once, reloaded on change.

A model is served under a name when
- an ``online:`` publish target names it (``publish.<model>.online``, ``name:``), or
- a registry entry with ``published: true`` has that display name (an online name wins a clash).

The catalog keeps one read-only SQLite connection and asks ``PRAGMA data_version`` on every
lookup: it changes only when another connection (an ``edgeops apply``) committed, so a newly
published version is seen on the next request at the cost of one tiny query. A model whose file
hash changed is reloaded lazily; in-flight requests finish on the interpreters they hold.
"""

from __future__ import annotations

import hashlib
import io
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgeops.backends import read_only_registry
from edgeops.backends.layout import LABELS_TXT, version_folder
from edgeops.files import sha256_bytes

# Formats the datasets accept (DESIGN.md: data rules), decoded and checked, never trusted by name.
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP", "ICO", "WEBP", "MPO"})
MAX_PIXELS = 50_000_000  # per decoded image; larger ones are refused before decoding


class ModelNotFound(LookupError):
    pass


class ModelUnavailable(RuntimeError):
    """The model is published but cannot be served (file missing or not the published bytes)."""


class BadImage(ValueError):
    pass


Arm = Literal["stable", "candidate"]
MAX_CLIENT_ID = 256  # characters


@dataclass(frozen=True)
class Published:
    """One served name as the registry records it."""

    name: str
    source: str  # "online" (publish.<model>.online) or "registry" (a published registry entry)
    model: str  # the edgeops model name
    version: int
    file: Path
    sha256: str
    labels: tuple[str, ...]
    threshold: float
    rollout: Rollout | None = None  # a registry entry rolling out another model's version

    def arm(self, arm: Arm) -> Published:
        """What one side of the rollout serves (the stable side without the rollout, so a
        percent change never reloads a model)."""
        if arm == "candidate":
            assert self.rollout is not None
            return self.rollout.candidate
        return replace(self, rollout=None) if self.rollout is not None else self


@dataclass(frozen=True)
class Rollout:
    percent: float  # 0..100, at most one decimal
    candidate: Published  # the candidate model's version, served under the entry's name

    def arm_for(self, entry: str, client_id: str | None) -> Arm:
        return "candidate" if in_candidate_arm(entry, client_id, self.percent) else "stable"


def client_bucket(entry: str, client_id: str) -> int:
    """0..9999, fixed for an (entry name, client id) pair: a client stays on one side."""
    return int(hashlib.sha256(f"{entry}:{client_id}".encode()).hexdigest()[:8], 16) % 10000


def in_candidate_arm(entry: str, client_id: str | None, percent: float) -> bool:
    """Clients whose bucket is below ``percent`` (in hundredths of a percent) get the candidate;
    a request without a client id always gets the stable version."""
    if not client_id:
        return False
    return client_bucket(entry, client_id) < round(percent * 100)


@dataclass
class LoadedModel:
    published: Published
    data: bytes  # the file's bytes: served by /download and loaded by the interpreters
    input_size: tuple[int, int]  # (height, width)
    runners: queue.LifoQueue[Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.published.name

    @contextmanager
    def runner(self) -> Iterator[Any]:
        r = self.runners.get()
        try:
            yield r
        finally:
            self.runners.put(r)

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 at the model's input size -> float scores, one per label."""
        with self.runner() as r:
            return r.scores(pixels)  # type: ignore[no-any-return]


def _model_file(root: Path, model: str, version: int, recorded: str) -> Path:
    """The version's file under the backend folder, wherever the repository was moved or copied
    since the path was recorded (the registry stores absolute paths)."""
    here = root.joinpath(*version_folder(model, version), Path(recorded).name)
    return here if here.exists() or not Path(recorded).exists() else Path(recorded)


def read_published(reg: Any) -> dict[str, Published]:
    root = reg.path.parent
    out: dict[str, Published] = {}
    for name, e in reg.registry_entries().items():
        if not e["published"]:
            continue
        rollout = None
        if e.get("candidate_model"):
            candidate = _entry_version(
                root,
                name,
                e["candidate_model"],
                int(e["candidate_version"]),
                e["candidate_file"],
                e["candidate_sha256"],
                e["candidate_threshold"],
            )
            rollout = Rollout(percent=float(e["rollout_percent"] or 0.0), candidate=candidate)
        stable = _entry_version(
            root, name, e["model"], int(e["version"]), e["file"], e["sha256"], e["threshold"]
        )
        out[name] = replace(stable, rollout=rollout)
    for row in reg.publish_rows().values():
        state = row.state
        if row.kind != "online" or not state.get("name"):
            continue
        out[state["name"]] = Published(
            name=state["name"],
            source="online",
            model=row.model,
            version=row.version,
            file=_model_file(root, row.model, row.version, state["file"]),
            sha256=state["sha256"],
            labels=tuple(state.get("labels", ())),
            threshold=float(state["threshold"] if state.get("threshold") is not None else 0.5),
        )
    return dict(sorted(out.items()))


def _entry_version(
    root: Path,
    name: str,
    model: str,
    version: int,
    recorded: str,
    sha256: str,
    threshold: float | None,
) -> Published:
    file = _model_file(root, model, version, recorded)
    labels_file = file.parent / LABELS_TXT
    labels = labels_file.read_text().split() if labels_file.exists() else []
    return Published(
        name=name,
        source="registry",
        model=model,
        version=version,
        file=file,
        sha256=sha256,
        labels=tuple(labels),
        threshold=float(threshold if threshold is not None else 0.5),
    )


class ModelCatalog:
    """Published models by name; interpreters cached per (name, sha256)."""

    def __init__(self, registry_db: Path, *, interpreters: int = 2, threads: int = 1) -> None:
        self.registry_db = registry_db
        self.interpreters = max(1, interpreters)
        self.threads = max(1, threads)
        self._lock = threading.Lock()
        self._reg: Any = None  # the local registry, read-only
        self._data_version: int | None = None
        self._inode: int | None = None
        self._published: dict[str, Published] = {}
        self._loaded: dict[tuple[str, Arm], LoadedModel] = {}
        self._loading: dict[tuple[str, Arm], threading.Lock] = {}
        self.reloads = 0  # how many times a model was (re)loaded; for /metrics and tests

    # --- what is published -------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the registry if an apply committed since the last look (cheap otherwise)."""
        with self._lock:
            try:
                inode = self.registry_db.stat().st_ino
            except FileNotFoundError:
                return
            if self._reg is not None and inode != self._inode:
                # the file was replaced (state in a bucket: a newer registry pulled into this
                # machine's working copy): read the new one
                self._reg.close()
                self._reg, self._data_version = None, None
            if self._reg is None:
                self._reg = read_only_registry(self.registry_db)
                self._inode = inode
            (version,) = self._reg.db.execute("PRAGMA data_version").fetchone()
            if version == self._data_version:
                return
            try:
                published = read_published(self._reg)
            except sqlite3.OperationalError:
                return  # schema not there yet (nothing applied): serve nothing, look again later
            self._published = published
            self._data_version = version
            for name, arm in list(self._loaded):
                p = published.get(name)
                if p is None or (arm == "candidate" and p.rollout is None):
                    del self._loaded[name, arm]  # unpublished or rolled back
                elif p.arm(arm).sha256 != self._loaded[name, arm].published.sha256:
                    del self._loaded[name, arm]  # re-pointed: load again on next use

    def published(self) -> dict[str, Published]:
        self.refresh()
        return dict(self._published)

    def known(self, name: str) -> bool:
        """Whether ``name`` was published at the last look (no I/O: a hint, not an answer)."""
        return name in self._published

    def loaded_count(self) -> int:
        return len(self._loaded)

    # --- loading -----------------------------------------------------------------------------

    def entry(self, name: str) -> Published:
        """What is published as ``name`` now, rollout included (no loading)."""
        self.refresh()
        p = self._published.get(name)
        if p is None:
            raise ModelNotFound(name)
        return p

    def last_published(self, name: str) -> Published | None:
        """What was published as ``name`` at the last look (no I/O)."""
        return self._published.get(name)

    def get(self, name: str, arm: Arm = "stable", entry: Published | None = None) -> LoadedModel:
        """The loaded model one side of ``name`` serves (blocking: call it from a worker
        thread). The candidate side of a name whose rollout was just removed is its stable one.
        ``entry``: what ``entry(name)`` just returned (saves looking at the registry again)."""
        if entry is None:
            entry = self.entry(name)
        if arm == "candidate" and entry.rollout is None:
            arm = "stable"
        p = entry.arm(arm)
        key = (name, arm)
        loaded = self._loaded.get(key)
        if loaded is not None and loaded.published == p:
            return loaded
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per name and side at a time; others wait and reuse the result
            loaded = self._loaded.get(key)
            if loaded is not None and loaded.published == p:
                return loaded
            loaded = self._load(p)
            with self._lock:
                now = self._published.get(name)
                if now is not None and (arm == "stable" or now.rollout) and now.arm(arm) == p:
                    self._loaded[key] = loaded
                    self.reloads += 1
            return loaded

    def _load(self, p: Published) -> LoadedModel:
        from edgeops.runtime.litert import LiteRTRunner

        try:
            data = p.file.read_bytes()
        except OSError as e:
            raise ModelUnavailable(
                f"model '{p.name}' (v{p.version}): cannot read {p.file}: {e.strerror}; "
                "run `edgeops apply` to publish it again"
            ) from None
        if sha256_bytes(data) != p.sha256:
            raise ModelUnavailable(
                f"model '{p.name}' (v{p.version}): {p.file} is not the published file "
                "(its sha256 differs); run `edgeops apply` to publish it again"
            )
        runners: queue.LifoQueue[Any] = queue.LifoQueue()
        for _ in range(self.interpreters):
            runners.put(LiteRTRunner(data, num_threads=self.threads))
        first = runners.queue[0]
        _, height, width, _ = (int(x) for x in first.input["shape"])
        return LoadedModel(published=p, data=data, input_size=(height, width), runners=runners)

    def close(self) -> None:
        with self._lock:
            if self._reg is not None:
                self._reg.close()
                self._reg = None


ORIENTATION = 0x0112  # the EXIF tag exif_transpose reads


def decode_image(data: bytes, size: tuple[int, int]) -> np.ndarray:
    """Image bytes -> uint8 HxWx3 pixels at ``size`` (whole image resized, as in training:
    the pixels of ``runtime.images.load_rgb`` then a bilinear resize, from one open)."""
    from PIL import Image, ImageOps

    try:
        im = Image.open(io.BytesIO(data))
    except Exception:  # untrusted bytes: whatever Pillow raises is the client's bad image
        raise BadImage("not an image Pillow can decode (JPEG, PNG, GIF, BMP, ICO, WebP)") from None
    with im:
        fmt = im.format or "unknown"
        w, h = im.size
        if fmt not in IMAGE_FORMATS:
            raise BadImage(f"image format {fmt} is not accepted (JPEG, PNG, GIF, BMP, ICO, WebP)")
        if w * h > MAX_PIXELS:
            raise BadImage(f"image is {w}x{h} pixels; at most {MAX_PIXELS // 1_000_000} MP")
        try:
            im.seek(0)
            upright: Image.Image = im
            if im.getexif().get(ORIENTATION, 1) == 1:  # upright already: no transposed copy
                im.load()
            else:
                upright = ImageOps.exif_transpose(im)  # a decoded copy
            image = upright if upright.mode == "RGB" else upright.convert("RGB")
            height, width = size
            resized = image.resize((width, height), Image.Resampling.BILINEAR)
        except Exception as e:  # truncated data, bad palettes, bombs: never a server error
            raise BadImage(f"the image is damaged or truncated ({e})") from None
    return np.asarray(resized, dtype=np.uint8)
