"""Cuts one camera's access units into fragmented-MP4 segments: keyframe-aligned, hashed as written.

Rules (docs/design/recording.md):
- a segment starts at a keyframe, and a new one starts at the first keyframe at or after
  `segment_90k`, or when the parameter sets change;
- a fragment is appended at least every `fragment_90k` of media time, so a `kill -9` loses at most
  the fragment in flight; a fragment need not start at a keyframe;
- a sample's duration is the gap to the next picture, so the newest picture is held back until the
  next arrives (or, at the end of a stream, gets the previous picture's duration);
- SHA-256 is computed over exactly the bytes written, while they are written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from custos.catalog.records import SegmentRecord
from custos.errors import CustosError, Kind
from custos.ingest.naming import SegmentName
from custos.media.fmp4 import Sample, fragment, init_segment, length_prefixed
from custos.media.h26x import describe, without_redundant
from custos.media.types import AccessUnit, StreamParams
from custos.storage.base import PartialWriter, Storage

log = logging.getLogger(__name__)

DEFAULT_FRAME_90K = 3600  # 25 fps; only used when a stream ends after a single picture
MAX_SLEW_PPM = 500  # how fast wall-clock times may be pulled toward the local clock (Moonfire NVR: 500 ppm)


@dataclass(slots=True)
class _Open:
    name: SegmentName
    writer: PartialWriter
    params: StreamParams
    start_pts: int
    hasher: hashlib._Hash
    good_size: int  # end of the last complete fragment: the file is cut back to this on a write error
    frame_count: int = 0
    duration_90k: int = 0
    sequence: int = 0
    keyframes: list[tuple[int, int]] = field(default_factory=list)


class Segmenter:
    """One camera's writer. Not thread-safe: one ingest thread owns it."""

    def __init__(
        self,
        camera: str,
        storage: Storage,
        *,
        segment_90k: int,
        fragment_90k: int,
        sync: Callable[[PartialWriter], None],
        publish: Callable[[PartialWriter, SegmentRecord], None],
    ) -> None:
        self.camera = camera
        self._storage = storage
        self._segment_90k = segment_90k
        self._fragment_90k = fragment_90k
        self._sync = sync
        self._publish = publish
        self._seg: _Open | None = None
        self._pending: list[Sample] = []
        self._pending_90k = 0
        self._held: AccessUnit | None = None
        self._last_duration = DEFAULT_FRAME_90K
        self._params: StreamParams | None = None
        self._timeline_0 = 0  # timeline time of pts0 for this connection
        self._pts0 = 0
        self._wall0_ns = 0
        self._slewed_pts = 0
        self.frames_written = 0
        self.last_write_ns = time.monotonic_ns()
        self.frames_skipped = 0  # pictures before the first keyframe of a connection

    # -- connection lifecycle -------------------------------------------------------------------

    def begin(self, params: StreamParams, first: AccessUnit, timeline_90k: int) -> None:
        """A new connection: map its first picture to the wall clock and to the camera's timeline."""
        self.end()
        self._params = params
        self._pts0 = first.pts_90k
        self._wall0_ns = first.received_ns
        self._slewed_pts = first.pts_90k
        self._timeline_0 = timeline_90k

    def params_changed(self, params: StreamParams) -> None:
        """New parameter sets in band: the next keyframe starts a new segment with a new init segment."""
        self._params = params

    def end(self, end_pts: int | None = None) -> None:
        """The connection ended (or the recorder stops): close and publish the open segment."""
        if self._seg is None:
            self._held = None
            return
        if self._held is not None:
            dur = end_pts - self._held.pts_90k if end_pts is not None else self._last_duration
            self._queue(self._held, dur if dur > 0 else self._last_duration)
            self._held = None
        self._close_segment()

    @property
    def recording(self) -> bool:
        return self._seg is not None

    def wall_utc(self, pts_90k: int) -> dt.datetime:
        ns = self._wall0_ns + (pts_90k - self._pts0) * 100_000 // 9
        return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)

    def timeline(self, pts_90k: int) -> int:
        return self._timeline_0 + pts_90k - self._pts0

    # -- pictures -------------------------------------------------------------------------------

    def push(self, au: AccessUnit) -> None:
        seg = self._seg
        if seg is None:
            if not au.is_key:
                self.frames_skipped += 1
                return
            self._open(au)
            self._held = au
            return
        held = self._held
        assert held is not None
        dur = au.pts_90k - held.pts_90k
        if dur <= 0:  # a repeated or backwards timestamp: keep time moving, never go back
            dur = self._last_duration
            au.pts_90k = held.pts_90k + dur
        self._last_duration = dur
        if au.is_key and (au.pts_90k - seg.start_pts >= self._segment_90k or self._params != seg.params):
            self._queue(held, dur)
            self._close_segment()
            self._open(au)
            self._held = au
            return
        self._queue(held, dur)
        self._held = au
        if self._pending_90k >= self._fragment_90k:
            self._write_fragment()

    def flush(self, older_than_ns: int = 0) -> None:
        """Write the pending samples if the last fragment is older than `older_than_ns` (a timer calls
        this so that a slow or stalled stream still reaches the disk within a fragment's time)."""
        if self._seg is not None and self._pending and time.monotonic_ns() - self.last_write_ns >= older_than_ns:
            self._write_fragment()

    # -- internals ------------------------------------------------------------------------------

    def _queue(self, au: AccessUnit, duration_90k: int) -> None:
        seg = self._seg
        assert seg is not None
        self._pending.append(Sample(length_prefixed(without_redundant(seg.params, au.nals)), duration_90k, au.is_key))
        self._pending_90k += duration_90k

    def _open(self, au: AccessUnit) -> None:
        params = self._params
        if params is None:
            raise CustosError(Kind.FAILED_PRECONDITION, f"camera {self.camera}: picture before stream parameters")
        self._slew(au)
        name = SegmentName(self.camera, self.wall_utc(au.pts_90k), self.timeline(au.pts_90k))
        writer = self._storage.open_writer(name.key)
        seg = _Open(name, writer, params, au.pts_90k, hashlib.sha256(), 0)
        self._seg = seg
        try:
            self._append(seg, init_segment(params))
        except CustosError:
            self._seg = None
            writer.discard()  # the init segment did not fit: nothing of the camera's is in it
            raise
        seg.good_size = writer.size_bytes

    def _slew(self, au: AccessUnit) -> None:
        """A camera's clock runs a little fast or slow against ours, so at each segment boundary the
        wall-clock mapping moves toward the picture's arrival time, by at most MAX_SLEW_PPM of the
        media time since the last move: wall times follow the local clock over days, never jump, and
        the media timeline itself is untouched."""
        if not au.received_ns:
            return
        predicted_ns = self._wall0_ns + (au.pts_90k - self._pts0) * 100_000 // 9
        limit_ns = (au.pts_90k - self._slewed_pts) * 100_000 // 9 * MAX_SLEW_PPM // 1_000_000
        self._wall0_ns += max(-limit_ns, min(limit_ns, au.received_ns - predicted_ns))
        self._slewed_pts = au.pts_90k

    def _append(self, seg: _Open, data: bytes) -> None:
        seg.writer.write(data)
        seg.hasher.update(data)

    def _write_fragment(self) -> None:
        seg = self._seg
        assert seg is not None
        samples, self._pending, self._pending_90k = self._pending, [], 0
        base = seg.duration_90k
        data = fragment(seg.sequence + 1, base, samples)
        offset = seg.writer.size_bytes
        try:
            self._append(seg, data)
        except CustosError:
            # A torn fragment must not stay in the file: cut back to the last whole one, close what
            # is there, and let the caller record the outage.
            self._abort_fragment(seg)
            raise
        seg.sequence += 1
        self.last_write_ns = time.monotonic_ns()
        seg.good_size = seg.writer.size_bytes
        t = base
        for s in samples:
            if s.is_key:
                seg.keyframes.append((t, offset))
            t += s.duration_90k
        seg.duration_90k = t
        seg.frame_count += len(samples)
        self.frames_written += len(samples)
        self._sync(seg.writer)

    def _abort_fragment(self, seg: _Open) -> None:
        self._seg = None
        self._held = None
        try:
            seg.writer.truncate(seg.good_size)
        except Exception:
            log.exception("camera %s: could not cut %s back to %d bytes", self.camera, seg.name.key, seg.good_size)
            seg.writer.close()  # recovery will cut the torn tail on the next start
            return
        if seg.frame_count == 0:
            seg.writer.discard()  # only our init segment: no picture is in it
            return
        self._publish(seg.writer, self._record(seg, rehash=True))

    def _close_segment(self) -> None:
        seg = self._seg
        assert seg is not None
        if self._pending:
            try:
                self._write_fragment()
            except CustosError:
                return  # _abort_fragment has published what was whole
        self._seg = None
        if seg.frame_count == 0:
            seg.writer.discard()  # only our init segment: no picture is in it
            return
        self._publish(seg.writer, self._record(seg))

    def _record(self, seg: _Open, rehash: bool = False) -> SegmentRecord:
        info = describe(seg.params)
        if rehash:
            h = hashlib.sha256()
            pos = 0
            while pos < seg.good_size:
                chunk = seg.writer.read(pos, min(1 << 20, seg.good_size - pos))
                h.update(chunk)
                pos += len(chunk)
            sha = h.hexdigest()
        else:
            sha = seg.hasher.hexdigest()
        start = seg.name.start_utc
        return SegmentRecord(
            camera=self.camera,
            storage_key=seg.name.key,
            start_utc=start,
            end_utc=start + dt.timedelta(microseconds=seg.duration_90k * 100 // 9),
            start_90k=seg.name.start_90k,
            duration_90k=seg.duration_90k,
            frame_count=seg.frame_count,
            size_bytes=seg.good_size,
            codec=seg.params.codec,
            codec_string=info.codec_string,
            width=info.width,
            height=info.height,
            keyframes=list(seg.keyframes),
            sha256=sha,
        )
