"""What the server runs with: :class:`ServeSettings`, built from the command line and the config.

Cheap to import (no Starlette, no numpy), so the command's arguments are checked before the
server's libraries load.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from edgeops.config.model import Config
from edgeops.errors import EdgeopsError

MB = 1 << 20


@dataclass(frozen=True)
class ServeSettings:
    registry_db: Path  # the local backend's registry.sqlite
    token: str | None = None  # required as `Authorization: Bearer <token>` when set
    max_body_bytes: int = 20 * MB
    max_image_bytes: int = 10 * MB  # one image, after base64 decoding
    max_instances: int = 32  # images per request
    max_predictions: int = 10  # labels per image when the request does not say
    interpreters: int = 2  # LiteRT interpreters per model: concurrent inferences per model
    threads: int = 1  # CPU threads per interpreter


def size_text(n: int) -> str:
    """A byte count for messages: ``20 MB``, ``512 bytes``."""
    return f"{n / MB:g} MB" if n >= MB else f"{n} bytes"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_for(
    config: Config,
    *,
    host: str,
    token: str | None,
    insecure: bool,
    max_body_mb: float,
    interpreters: int,
) -> ServeSettings:
    """Checks the command line against the config; raises EdgeopsError for what to fix."""
    if config.backend.local is None:
        raise EdgeopsError(
            f"{config.path}: edgeops serve serves the local backend's published models; "
            f"this config uses the {config.backend.kind} backend"
        )
    if not is_loopback(host) and not token and not insecure:
        raise EdgeopsError(
            f"--host {host} makes the server reachable from other machines: set a token with "
            "EDGEOPS_SERVE_TOKEN (or --token) so clients must send `Authorization: Bearer "
            "<token>`, or pass --insecure to serve without one"
        )
    if max_body_mb <= 0:
        raise EdgeopsError(f"--max-body-mb must be more than 0, not {max_body_mb:g}")
    if interpreters < 1:
        raise EdgeopsError(f"--interpreters must be at least 1, not {interpreters}")
    max_body = int(max_body_mb * MB)
    return ServeSettings(
        registry_db=config.backend.local.path / "registry.sqlite",
        token=token or None,
        max_body_bytes=max_body,
        max_image_bytes=min(10 * MB, max_body),
        interpreters=interpreters,
    )
