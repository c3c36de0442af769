"""Moving the local backend's state between a folder and a bucket (Terraform's
``init -migrate-state``): ``edgeops migrate-state --from OLD`` copies the state at OLD to where
``backend.local.path`` now points. Images and model files are copied once each (what the
destination bucket already holds is not sent again); the registry is written last, so an
interrupted migration leaves the destination without state and can simply be run again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edgeops.addresses import name_of
from edgeops.backends.layout import version_folder
from edgeops.backends.local.registry import Registry
from edgeops.backends.local.remote import REGISTRY, RemoteState
from edgeops.backends.local.store import BlobStore
from edgeops.config.model import LocalBackendSpec
from edgeops.errors import EdgeopsError
from edgeops.files import atomic_write
from edgeops.objectstore import lease as leases
from edgeops.progress import Reporter


@dataclass(frozen=True)
class Migrated:
    images: int
    versions: int
    source: str
    destination: str


def migrate_state(
    src: LocalBackendSpec, dst: LocalBackendSpec, *, force: bool, reporter: Reporter
) -> Migrated:
    if src.location == dst.location:
        raise EdgeopsError(f"{src.location}: the state is already there; nothing to migrate")
    src_remote = RemoteState(src) if src.remote else None
    dst_remote = RemoteState(dst) if dst.remote else None
    if src_remote is not None:
        src_remote.pull()
        if src_remote.store.head(leases.LOCK_KEY) is not None:
            raise EdgeopsError(
                f"{src.location} is locked by an apply; wait for it, or `edgeops unlock` it"
            )
    elif (src.path / "lock.json").exists():
        raise EdgeopsError(f"{src.location} is locked by an apply; wait for it to finish")
    src_db = src.path / REGISTRY
    if not src_db.exists():
        raise EdgeopsError(f"{src.location}: no edgeops state there ({REGISTRY} is missing)")
    if not force and _holds_state(dst, dst_remote):
        raise EdgeopsError(
            f"{dst.location} already holds edgeops state; refusing to overwrite it. "
            "Pass --force to replace it."
        )

    registry = Registry(src_db)
    try:
        shas = sorted({r.sha256 for d in registry.datasets().values() for r in d.images})
        versions = [
            (address, v.version, dict(v.files))
            for address, m in registry.models().items()
            for v in m.versions
            if v.status == "ready"
        ]
        source_store = BlobStore(src.path / "store", remote=src_remote)
        target_store = BlobStore(dst.path / "store", remote=dst_remote)
        with reporter.task(f"copying {len(shas)} images", len(shas)) as task:
            for sha in shas:
                if not target_store.has(sha):
                    target_store.put(sha, source_store.path(sha).read_bytes())
                task.advance()
        for address, version, files in versions:
            name = name_of(address)
            folder = src.path.joinpath(*version_folder(name, version))
            if src_remote is not None:
                src_remote.fetch_version(name, version, folder, files)
            if dst_remote is not None:
                dst_remote.put_version(name, version, folder, files)
            else:
                target = dst.path.joinpath(*version_folder(name, version))
                shutil.copytree(folder, target, dirs_exist_ok=True)
        data = registry.db.serialize()
    finally:
        registry.close()

    if dst_remote is not None:
        dst_remote.store.put(REGISTRY, data)  # last: it names everything copied above
        dst_remote.pull()
    else:
        for suffix in ("-wal", "-shm"):
            Path(f"{dst.path / REGISTRY}{suffix}").unlink(missing_ok=True)
        atomic_write(dst.path / REGISTRY, data)
    return Migrated(len(shas), len(versions), src.location, dst.location)


def _holds_state(spec: LocalBackendSpec, remote: RemoteState | None) -> bool:
    if remote is not None:
        return remote.store.head(REGISTRY) is not None
    return (spec.path / REGISTRY).exists()
