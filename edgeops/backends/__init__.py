"""Backends by name. Each module is imported only when its backend is used."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeops.backends.base import Backend
    from edgeops.config.model import Config
    from edgeops.datasets.rules import DataRules

# name -> "module:factory"; the factory takes the loaded Config
BACKENDS = {
    "local": "edgeops.backends.local.backend:LocalBackend",
    "google": "edgeops.backends.google.backend:GoogleBackend",
}


def get_backend(config: Config) -> Backend:
    from edgeops.errors import EdgeopsError

    target = BACKENDS.get(config.backend.kind)
    if target is None:
        raise EdgeopsError(
            f"{config.path}: backend '{config.backend.kind}' is not available in this version "
            f"of edgeops (available: {', '.join(sorted(BACKENDS))})"
        )
    module, factory = target.split(":")
    return getattr(import_module(module), factory)(config)  # type: ignore[no-any-return]


def local_training_estimate(n_images: int, optimize_for: str) -> float:
    """The local trainer's wall-time estimate for ``n_images`` (the one ``edgeops plan``
    shows), for callers that have no config yet (``edgeops init`` sizing a first budget)."""
    from edgeops.backends.local.ml import machine_estimate

    return machine_estimate(n_images, optimize_for).seconds


def data_rules_of(kind: str) -> DataRules | None:
    """The data rules of backend ``kind``'s trainer (``Backend.data_rules``), for callers that
    have no config yet (``edgeops init --backend google`` scans as the plan will)."""
    if kind == "google":
        from edgeops.backends.google.rules import VertexDataRules

        return VertexDataRules()
    return None


def read_only_registry(path: Path) -> Any:
    """The local backend's registry at ``path`` opened read-only and shareable across threads
    (``edgeops serve`` reads what apply published, and never writes)."""
    from edgeops.backends.local.registry import Registry

    return Registry.read_only(path)


def migrate_local_state(
    config: Config, source: str, *, endpoint_url: str | None, force: bool, reporter: Any
) -> Any:
    """``edgeops migrate-state``: copy the local backend's state from ``source`` (a folder,
    relative to the config's folder, or s3:// / gs://) to where the config now keeps it."""
    from edgeops.backends.local.migrate import migrate_state
    from edgeops.config.model import LocalBackendSpec
    from edgeops.errors import EdgeopsError
    from edgeops.machine import working_copy

    dst = config.backend.local
    if dst is None:
        raise EdgeopsError(
            f"{config.path}: migrate-state moves the local backend's state; this config uses "
            f"the {config.backend.kind} backend"
        )
    if source.startswith(("s3://", "gs://")):
        url = source.rstrip("/")
        src = LocalBackendSpec(
            path=working_copy(url, endpoint_url), url=url, endpoint_url=endpoint_url
        )
    else:
        src = LocalBackendSpec(path=(config.root / source).resolve())
    return migrate_state(src, dst, force=force, reporter=reporter)
