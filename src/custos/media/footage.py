"""Clips of a camera's recordings for a wall-clock range: the catalog finds the segments, storage
reads them by range, `custos.media.clip` joins them without re-encoding.

This is a library function. Footage leaves storage for a reader only through the gate (DESIGN
principle 1), which will call this after writing the access record; nothing else should.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from typing import BinaryIO

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment
from custos.errors import CustosError, Kind
from custos.media.clip import ClipInfo, ClipSource, write_clip
from custos.media.fmp4 import scan
from custos.media.h26x import describe
from custos.media.types import StreamParams
from custos.storage.base import Storage


def segments_in_range(db: Database, camera: str, start_utc: dt.datetime, end_utc: dt.datetime) -> list[Segment]:
    """The camera's live (not deleted) segments overlapping the range, in timeline order; NOT_FOUND if none."""
    with db.session() as s:
        cam = s.scalar(select(Camera).where(Camera.name == camera))
        if cam is None:
            raise CustosError(Kind.NOT_FOUND, f"no camera named {camera!r}")
        segs = list(
            s.scalars(
                select(Segment)
                .where(
                    Segment.camera_id == cam.id,
                    Segment.end_utc > start_utc,
                    Segment.start_utc < end_utc,
                    Segment.deleted_at.is_(None),
                )
                .order_by(Segment.start_90k)
            )
        )
    if not segs:
        raise CustosError(
            Kind.NOT_FOUND,
            f"camera {camera!r} has no recording between {start_utc.isoformat()} and {end_utc.isoformat()}",
        )
    return segs


def copy_segment(storage: Storage, seg: Segment, out: BinaryIO, chunk: int = 1 << 20) -> int:
    """Copy one original segment file byte for byte into `out`; the bytes copied."""
    n = 0
    with storage.open(seg.storage_key) as f:
        while data := f.read(chunk):
            out.write(data)
            n += len(data)
    return n


def assemble_clip(
    db: Database,
    storage: Storage,
    camera: str,
    start_utc: dt.datetime,
    end_utc: dt.datetime,
    out: BinaryIO,
    *,
    planned: Callable[[dt.datetime, float, str], None] | None = None,
) -> ClipInfo:
    """Write one MP4 of `camera` from `start_utc` to `end_utc` into `out`, cut at keyframes.
    `planned(first_utc, seconds, codec_string)` is told when the clip's first picture was taken, how long
    the clip is and its RFC 6381 codec, before anything is written."""
    if end_utc <= start_utc:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"clip end {end_utc.isoformat()} is not after its start {start_utc.isoformat()}"
        )
    segs = segments_in_range(db, camera, start_utc, end_utc)
    start_90k = _to_timeline(segs, start_utc)
    end_90k = _to_timeline(segs, end_utc)
    with ExitStack() as stack:
        sources = []
        for seg in segs:
            f = stack.enter_context(storage.open(seg.storage_key))
            sources.append(ClipSource(file=f, index=scan(f), start_90k=seg.start_90k))

        def on_plan(first_90k: int, duration_90k: int, params: StreamParams) -> None:
            if planned is not None:
                planned(_from_timeline(segs, first_90k), duration_90k / 90_000, describe(params).codec_string)

        return write_clip(sources, start_90k, end_90k, out, planned=on_plan)


def _from_timeline(segs: list[Segment], t_90k: int) -> dt.datetime:
    """The wall-clock time of a timeline instant, through the segment that holds it (or the last before it)."""
    seg = segs[0]
    for s in segs:
        if s.start_90k <= t_90k:
            seg = s
    return seg.start_utc + dt.timedelta(microseconds=(t_90k - seg.start_90k) * 100 / 9)


def _to_timeline(segs: list[Segment], t: dt.datetime) -> int:
    """An instant on the camera's timeline, through the segment that holds it: each segment carries
    its own wall-clock anchor (clock slew moves anchors apart by a few ms a segment). An instant in a
    gap maps to the edge of the segment after it, or before it when none follows."""
    for seg in segs:
        if t < seg.end_utc:
            return seg.start_90k + max(0, _us_90k(t - seg.start_utc))
    last = segs[-1]
    return last.start_90k + last.duration_90k


def _us_90k(delta: dt.timedelta) -> int:
    return round(delta / dt.timedelta(microseconds=1) * 9 / 100)
