"""Local-folder storage: final objects under `objects/`, recordings in flight under `partial/`.

The write procedure is in docs/design/recording.md; in short: write to a temporary or partial name,
fsync the file, rename into place, fsync the folder (and any folder newly created on the way), so
that after a crash a key is either absent or complete.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from custos.durable import fsync_dir, makedirs_durable
from custos.errors import CustosError, Kind
from custos.storage.base import ObjectInfo

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
PARTIAL_SUFFIX = ".partial"


def check_key(key: str) -> str:
    """Keys are relative paths of plain names: no '..', no absolute paths, no odd characters."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")) or key.endswith(PARTIAL_SUFFIX):
        raise CustosError(Kind.INVALID_ARGUMENT, f"invalid storage key {key!r}")
    return key


def _io_error(action: str, key: str, exc: OSError) -> CustosError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CustosError(Kind.RESOURCE_EXHAUSTED, f"storage is full: could not {action} {key!r} ({exc.strerror})")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return CustosError(Kind.UNAVAILABLE, f"storage refuses writes: could not {action} {key!r} ({exc.strerror})")
    return CustosError(Kind.UNAVAILABLE, f"storage error: could not {action} {key!r} ({exc.strerror})")


class LocalPartialWriter:
    """A recording in flight: appended to `partial/KEY.partial`, renamed to `objects/KEY` on commit."""

    def __init__(self, storage: LocalStorage, key: str, *, create: bool) -> None:
        self.key = key
        self._storage = storage
        self._path = storage.partial_path(key)
        try:
            if create:
                makedirs_durable(self._path.parent, stop=storage.root)
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
                fsync_dir(self._path.parent)
            else:
                fd = os.open(self._path, os.O_RDWR | os.O_APPEND)
        except FileExistsError:
            raise CustosError(Kind.FAILED_PRECONDITION, f"a recording of {key!r} is already in flight") from None
        except OSError as exc:
            raise _io_error("start", key, exc) from exc
        self._fd: int | None = fd
        self._size = os.fstat(fd).st_size

    @property
    def size_bytes(self) -> int:
        return self._size

    def _require_open(self) -> int:
        if self._fd is None:
            raise CustosError(Kind.FAILED_PRECONDITION, f"writer of {self.key!r} is closed")
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._require_open()
        view = memoryview(data)
        try:
            while view:
                n = os.write(fd, view)
                self._size += n
                view = view[n:]
        except OSError as exc:
            raise _io_error("write", self.key, exc) from exc

    def sync(self) -> None:
        try:
            os.fdatasync(self._require_open())
        except OSError as exc:
            raise _io_error("sync", self.key, exc) from exc

    def truncate(self, size_bytes: int) -> None:
        fd = self._require_open()
        if not 0 <= size_bytes <= self._size:
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"cannot truncate {self.key!r} of {self._size} bytes to {size_bytes}"
            )
        os.ftruncate(fd, size_bytes)
        os.fsync(fd)
        self._size = size_bytes

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._require_open(), length, offset)

    def commit(self) -> ObjectInfo:
        fd = self._require_open()
        final = self._storage.object_path(self.key)
        try:
            os.fsync(fd)
            os.close(fd)
            self._fd = None
            makedirs_durable(final.parent, stop=self._storage.root)
            # link() fails if the key exists, where rename() would silently replace an original.
            os.link(self._path, final)
            fsync_dir(final.parent)
            os.unlink(self._path)
            fsync_dir(self._path.parent)
        except FileExistsError:
            raise CustosError(
                Kind.FAILED_PRECONDITION, f"object {self.key!r} exists already; originals are never replaced"
            ) from None
        except OSError as exc:
            raise _io_error("commit", self.key, exc) from exc
        return self._storage.stat(self.key)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        self.close()
        self._path.unlink(missing_ok=True)
        fsync_dir(self._path.parent)


class LocalWriterLock:
    """An exclusive `flock` on `ROOT/writer.lock`; the kernel frees it when the holder dies."""

    def __init__(self, root: Path) -> None:
        path = root / "writer.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"storage {root} is being written by {holder}: one recorder per storage, and it recovers "
                "partial segments itself when it starts",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LocalStorage:
    """The default storage: one folder on a local (or mounted) file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        for sub in ("objects", "partial", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def lock_writer(self) -> LocalWriterLock:
        return LocalWriterLock(self.root)

    def object_path(self, key: str) -> Path:
        return self.root / "objects" / check_key(key)

    def partial_path(self, key: str) -> Path:
        return self.root / "partial" / (check_key(key) + PARTIAL_SUFFIX)

    def put(self, key: str, chunks: Iterable[bytes] | bytes) -> ObjectInfo:
        final = self.object_path(key)
        if final.exists():
            raise CustosError(Kind.FAILED_PRECONDITION, f"object {key!r} exists already; originals are never replaced")
        tmp = self.root / "tmp" / f"{os.getpid()}-{os.urandom(6).hex()}"
        try:
            with open(tmp, "wb") as f:
                for chunk in [chunks] if isinstance(chunks, bytes | bytearray | memoryview) else chunks:
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            makedirs_durable(final.parent, stop=self.root)
            os.rename(tmp, final)
            fsync_dir(final.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _io_error("put", key, exc) from exc
        return self.stat(key)

    def open_writer(self, key: str) -> LocalPartialWriter:
        if self.object_path(key).exists():
            raise CustosError(Kind.FAILED_PRECONDITION, f"object {key!r} exists already; originals are never replaced")
        return LocalPartialWriter(self, key, create=True)

    def partials(self) -> list[str]:
        """Recordings in flight. A commit interrupted between link and unlink is finished here: the
        partial name is a second link to the published object's own bytes, so removing it loses nothing."""
        base = self.root / "partial"
        keys = []
        for p in sorted(base.rglob("*" + PARTIAL_SUFFIX)):
            if not p.is_file():
                continue
            key = str(p.relative_to(base))[: -len(PARTIAL_SUFFIX)]
            final = self.object_path(key)
            if final.exists() and os.path.samefile(p, final):
                p.unlink()
                fsync_dir(p.parent)
                continue
            keys.append(key)
        return keys

    def open_partial(self, key: str) -> LocalPartialWriter:
        if not self.partial_path(key).exists():
            raise CustosError(Kind.NOT_FOUND, f"no recording of {key!r} in flight")
        return LocalPartialWriter(self, key, create=False)

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        with self.open(key) as f:
            f.seek(offset)
            return f.read() if length is None else f.read(length)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.object_path(key), "rb")
        except FileNotFoundError:
            raise CustosError(Kind.NOT_FOUND, f"no object {key!r} in storage") from None

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self.object_path(key).stat()
        except FileNotFoundError:
            raise CustosError(Kind.NOT_FOUND, f"no object {key!r} in storage") from None
        return ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def exists(self, key: str) -> bool:
        return self.object_path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root / "objects"
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                key = str((Path(dirpath) / name).relative_to(base))
                if key.startswith(prefix):
                    yield self.stat(key)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def expire(self, key: str) -> bool:
        path = self.object_path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            raise _io_error("expire", key, e) from e
        fsync_dir(path.parent)
        return True
