"""A folder as an object store, with the same guarantees as a bucket.

An object is the file ``<root>/<key>``. Every write goes to a temp file under
``<root>/.objectstore/tmp/``, fsynced, then published by a rename, so a reader never sees half
a file (like the local backend's store before it, the folder itself is not fsynced). Writes and
deletes hold a short exclusive ``flock`` on ``<root>/.objectstore/lock`` while they compare and
publish, so a conditional write is a true compare-and-swap between processes and threads; a
create-only write is also a hard link, which fails when the name exists.

The etag is ``inode-mtime-size`` in hex. Each write stamps its file with the current time in
nanoseconds, so two versions of a key never share an etag on filesystems that keep nanosecond
timestamps (ext4, XFS, btrfs, APFS, tmpfs).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from edgeops.objectstore.base import (
    Blob,
    PreconditionFailed,
    Requests,
    check_condition,
    check_key,
    check_prefix,
    download_atomically,
)

INTERNAL = ".objectstore"


def _etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.requests = Requests()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _where(self, key: str) -> str:
        return f"{self.url}/{key}"

    # --- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Blob | None:
        self.requests.add("get")
        try:
            with self.path(key).open("rb") as f:
                st = os.fstat(f.fileno())
                return Blob(f.read(), _etag(st))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def head(self, key: str) -> str | None:
        self.requests.add("head")
        return self._stat(self.path(key))

    def get_file(self, key: str, path: Path) -> str | None:
        self.requests.add("get")
        try:
            src = self.path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError):
            return None
        with src:
            etag = _etag(os.fstat(src.fileno()))
            download_atomically(path, lambda out: shutil.copyfileobj(src, out, 1 << 20))
        return etag

    def list(self, prefix: str = "") -> dict[str, str]:
        self.requests.add("list")
        check_prefix(prefix)
        folder = self.root / prefix.rpartition("/")[0]
        found: dict[str, str] = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            base = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if base == "." else f"{base}/{name}"
                if name.startswith(".") or not key.startswith(prefix):
                    continue
                etag = self._stat(Path(dirpath) / name)
                if etag is not None:  # else deleted while we walked
                    found[key] = etag
        return found

    @staticmethod
    def _stat(path: Path) -> str | None:
        try:
            return _etag(path.stat())
        except (FileNotFoundError, NotADirectoryError):
            return None

    # --- writes --------------------------------------------------------------------------------

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        self.requests.add("put")
        return self._publish(key, lambda out: out.write(data), if_match, if_absent)

    def put_file(
        self, key: str, path: Path, *, if_match: str | None = None, if_absent: bool = False
    ) -> str:
        self.requests.add("put")
        with Path(path).open("rb") as src:
            return self._publish(
                key, lambda out: shutil.copyfileobj(src, out, 1 << 20), if_match, if_absent
            )

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.requests.add("delete")
        target = self.path(key)
        with self._mutex():
            current = self._stat(target)
            if current is None:
                return
            if if_match is not None and current != if_match:
                raise PreconditionFailed(self._where(key), expected=if_match)
            target.unlink()

    def _publish(
        self,
        key: str,
        write: Callable[[BinaryIO], object],
        if_match: str | None,
        if_absent: bool,
    ) -> str:
        check_condition(if_match, if_absent)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._temp() as tmp:
            with tmp.open("wb") as out:
                write(out)
                out.flush()
                now = time.time_ns()  # a fresh etag for every version, see the docstring
                os.utime(out.fileno(), ns=(now, now))
                os.fsync(out.fileno())
            with self._mutex():
                if if_absent:
                    _link_new(tmp, target, self._where(key))
                else:
                    if if_match is not None and self._stat(target) != if_match:
                        raise PreconditionFailed(self._where(key), expected=if_match)
                    os.replace(tmp, target)
                return _etag(target.stat())

    @contextmanager
    def _temp(self) -> Iterator[Path]:
        folder = self.root / INTERNAL / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / uuid.uuid4().hex
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    @contextmanager
    def _mutex(self) -> Iterator[None]:
        """An exclusive flock, held only while comparing and publishing. flock (not fcntl
        record locks) belongs to the open file, so threads of one process exclude each other."""
        path = self.root / INTERNAL / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _link_new(tmp: Path, target: Path, where: str) -> None:
    """Publish ``tmp`` as ``target`` only if ``target`` does not exist (a hard link fails if
    it does). Where hard links are not supported, the mutex held makes exists+rename safe."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise PreconditionFailed(where, expected=None) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if target.exists():
            raise PreconditionFailed(where, expected=None) from None
        os.replace(tmp, target)
