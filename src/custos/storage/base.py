"""The storage contract, written so an S3 Object Lock implementation can follow without changing callers.

Two ways in:
- `put`: a whole object at once, atomically (it is either absent or complete under its key);
- `open_writer`: a segment being recorded. Its bytes are made durable as they come (`sync`) under a
  partial name that no reader sees, and `commit` publishes them under the final key atomically.
  After a crash, `partials()` lists what was in flight so recovery can close it (`open_partial`).
  On S3 the partial lives in a local spool and `commit` uploads it with Object Lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size_bytes: int
    modified_utc: dt.datetime


class PartialWriter(Protocol):
    """An object in the making: append, make durable, then publish. Never visible under its key before."""

    key: str

    @property
    def size_bytes(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def sync(self) -> None:
        """Everything written so far survives a crash of the process or the machine."""

    def truncate(self, size_bytes: int) -> None:
        """Cut a torn tail (used by recovery only, before commit)."""

    def read(self, offset: int, length: int) -> bytes: ...

    def commit(self) -> ObjectInfo:
        """Publish under `key` atomically and durably; the writer is closed afterwards."""

    def close(self) -> None:
        """Close without publishing; the partial stays for recovery (nothing is ever dropped)."""

    def discard(self) -> None:
        """Remove a partial that holds no footage (only the header its writer put there).

        The caller vouches that no picture is in it: the segmenter counts its frames, recovery scans.
        """


class WriterLock(Protocol):
    def release(self) -> None: ...


class Storage(Protocol):
    def lock_writer(self) -> WriterLock:
        """Be the only process that writes recordings and recovers partials here; refused
        (FAILED_PRECONDITION) while another holds it. A crashed holder's lock is free again."""

    def put(self, key: str, chunks: Iterable[bytes] | bytes) -> ObjectInfo: ...

    def open_writer(self, key: str) -> PartialWriter: ...

    def partials(self) -> list[str]: ...

    def open_partial(self, key: str) -> PartialWriter: ...

    def read(self, key: str, offset: int = 0, length: int | None = None) -> bytes: ...

    def open(self, key: str) -> BinaryIO:
        """A seekable binary file for ranged reads."""

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def free_bytes(self) -> int: ...

    def expire(self, key: str) -> bool:
        """Remove an object whose retention has ended. Only the retention sweeper calls this, after the
        ledger has recorded the deletion (HB-17.6, CN-17); True if it was there. S3 Object Lock refuses
        it on its own before the retention date."""
