"""This machine's cache folder: derived data that is never the truth (decoded-image features,
converted backbones, the working copy of state kept in a bucket). Losing it costs only time.

``$EDGEOPS_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/edgeops``, else ``~/.cache/edgeops``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("EDGEOPS_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "edgeops").resolve()


def working_copy(url: str, endpoint_url: str | None = None) -> Path:
    """The folder where this machine works on the state kept at ``url`` (a bucket prefix): its
    copy of the registry, the images and model files it has used, and its derived caches."""
    key = hashlib.sha256(f"{endpoint_url or ''}|{url}".encode()).hexdigest()[:16]
    return cache_dir() / "state" / key
