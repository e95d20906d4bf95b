"""Crash recovery, run before the recorder starts (docs/design/recording.md, recovery procedure).

1. Every partial segment (a recording in flight when the process died) is scanned; a torn tail
   after the last complete fragment is cut off; what remains is hashed, published and indexed
   with `recovered = true`. A partial with no complete fragment holds no picture: it is removed
   and reported.
2. Every published segment without a catalog row (the process died between publishing and
   indexing) is scanned and indexed.
Nothing is dropped silently: each action is returned and logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import BinaryIO

from custos.catalog.db import Database
from custos.catalog.records import SegmentRecord, camera_by_name, index_segment, indexed_keys
from custos.errors import CustosError
from custos.ingest.naming import SegmentName
from custos.media.fmp4 import FileIndex, scan
from custos.media.h26x import describe
from custos.storage.base import PartialWriter, Storage

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    recovered: list[str] = field(default_factory=list)  # partials closed and indexed
    reindexed: list[str] = field(default_factory=list)  # published but unindexed segments indexed
    empty: list[str] = field(default_factory=list)  # partials with no complete fragment
    cut_bytes: int = 0  # torn-tail bytes removed in all
    problems: list[str] = field(default_factory=list)


class _PartialFile:
    """A read-only file view of a partial writer, for the fMP4 scanner."""

    def __init__(self, writer: PartialWriter) -> None:
        self._w = writer
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self._w.size_bytes - self._pos
        data = self._w.read(self._pos, n)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._w.size_bytes}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def record_from_index(key: str, index: FileIndex, sha256: str, size_bytes: int, recovered: bool) -> SegmentRecord:
    name = SegmentName.parse(key)
    info = describe(index.params)
    return SegmentRecord(
        camera=name.camera,
        storage_key=key,
        start_utc=name.start_utc,
        end_utc=name.start_utc + dt.timedelta(microseconds=index.duration_90k * 100 // 9),
        start_90k=name.start_90k,
        duration_90k=index.duration_90k,
        frame_count=index.frame_count,
        size_bytes=size_bytes,
        codec=index.params.codec,
        codec_string=info.codec_string,
        width=info.width,
        height=info.height,
        keyframes=[(k.decode_90k, k.fragment_offset) for k in index.keyframes],
        sha256=sha256,
        recovered=recovered,
    )


def _sha256(f: BinaryIO, size: int) -> str:
    h = hashlib.sha256()
    f.seek(0)
    left = size
    while left > 0:
        chunk = f.read(min(1 << 20, left))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    return h.hexdigest()


def recover(storage: Storage, db: Database, *, locked: bool = False) -> RecoveryReport:
    """Run the recovery procedure. `locked`: the caller holds the storage's writer lock already
    (the recorder does); otherwise it is taken here, so a recorder's partials in flight are never
    mistaken for a crash's."""
    if not locked:
        lock = storage.lock_writer()
        try:
            return recover(storage, db, locked=True)
        finally:
            lock.release()
    report = RecoveryReport()
    for key in storage.partials():
        try:
            _recover_partial(storage, db, key, report)
        except CustosError as exc:
            report.problems.append(f"{key}: {exc}")
            log.error("recovery of %s failed: %s", key, exc)
    with db.session() as s:
        known = indexed_keys(s)
    for info in storage.list():
        if info.key in known:
            continue
        try:
            SegmentName.parse(info.key)
        except CustosError:
            continue  # not a segment (exports and the like live elsewhere in storage)
        with storage.open(info.key) as f:
            index = scan(f)
            rec = record_from_index(info.key, index, _sha256(f, info.size_bytes), info.size_bytes, recovered=True)
        with db.session() as s:
            index_segment(s, rec)
        report.reindexed.append(info.key)
        log.warning("recovery: indexed published segment %s that had no catalog row", info.key)
    return report


def _recover_partial(storage: Storage, db: Database, key: str, report: RecoveryReport) -> None:
    name = SegmentName.parse(key)
    with db.session() as s:
        camera_by_name(s, name.camera)  # a partial of an unknown camera is a problem, not footage to guess at
    writer = storage.open_partial(key)
    try:
        index = scan(_PartialFile(writer))
        if index.frame_count == 0:
            report.empty.append(key)
            log.warning("recovery: %s has no complete fragment, so no picture; removed", key)
            writer.discard()
            return
        if index.valid_size < writer.size_bytes:
            report.cut_bytes += writer.size_bytes - index.valid_size
            writer.truncate(index.valid_size)
        sha = _sha256(_PartialFile(writer), index.valid_size)  # type: ignore[arg-type]
        rec = record_from_index(key, index, sha, index.valid_size, recovered=True)
        writer.commit()
    finally:
        writer.close()
    with db.session() as s:
        index_segment(s, rec)
    report.recovered.append(key)
    log.warning("recovery: closed and indexed %s (%d frames, %d bytes cut)", key, rec.frame_count, report.cut_bytes)
