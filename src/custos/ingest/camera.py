"""One camera's recording state: connection events in, segments and outage records out.

Both ingest clients drive this the same way (`connected`, `pictures`, `disconnected`), from one
thread per camera at a time, so the recorder candidates differ only in how bytes arrive.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass, field

from custos.catalog.db import Database
from custos.catalog.records import SegmentRecord, close_outage, index_segment, open_outage
from custos.ingest.flusher import Flusher
from custos.ingest.live import LiveTap
from custos.ingest.segmenter import Segmenter
from custos.media.types import AccessUnit, StreamParams
from custos.storage.base import PartialWriter, Storage

log = logging.getLogger(__name__)


class State(enum.Enum):
    CONNECTING = "connecting"
    RECORDING = "recording"
    OFFLINE = "offline"
    STOPPED = "stopped"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CameraStatus:
    name: str
    state: State = State.CONNECTING
    last_error: str | None = None
    frames_recorded: int = 0
    segments_published: int = 0
    reconnects: int = 0
    since_utc: dt.datetime = field(default_factory=utcnow)


@dataclass
class _OutageRef:
    id: int | None = None


class CameraRecorder:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        storage: Storage,
        db: Database,
        flusher: Flusher,
        segment_s: float,
        fragment_ms: int,
        timeline_end: tuple[int, dt.datetime] | None,
        ongoing_outage: int | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self._db = db
        self._flusher = flusher
        self.status = CameraStatus(name)
        self.live = LiveTap(name)
        self._segmenter = Segmenter(
            name,
            storage,
            segment_90k=round(segment_s * 90_000),
            fragment_90k=fragment_ms * 90,
            sync=flusher.sync,
            publish=self._publish,
        )
        self._end_90k, self._end_utc = timeline_end if timeline_end else (0, None)
        self._params: StreamParams | None = None
        self._fresh_connection = False
        self._last_pts: int | None = None
        self._outage: _OutageRef | None = None
        if ongoing_outage is not None:
            # The camera was down when the recorder stopped: the outage goes on until it records again.
            self._outage = _OutageRef(ongoing_outage)
        elif self._end_utc is not None:
            # Every gap in the recording is accounted for, including the recorder's own downtime.
            self._open_outage(self._end_utc, "the recorder was not running (stopped or crashed)")

    # -- events from an ingest client ------------------------------------------------------------

    def connected(self, params: StreamParams) -> None:
        self._params = params
        self._fresh_connection = True
        self.live.set_params(params)

    def params_changed(self, params: StreamParams) -> None:
        self._params = params
        self._segmenter.params_changed(params)
        self.live.set_params(params)

    def pictures(self, aus: list[AccessUnit]) -> None:
        """Pictures in arrival order. Raises CustosError if storage refuses them (caller disconnects)."""
        seg = self._segmenter
        for au in aus:
            if self._fresh_connection:
                assert self._params is not None
                self._fresh_connection = False
                seg.begin(self._params, au, self._timeline_start(au))
            was_recording = seg.recording
            seg.push(au)
            self._last_pts = au.pts_90k
            if not was_recording and seg.recording:
                self._recording_started(seg.wall_utc(au.pts_90k))
        self.status.frames_recorded = seg.frames_written
        if self.live.watched:
            self.live.deliver(aus)

    def tick(self, fragment_ns: int) -> None:
        """Timer: write pending samples if pictures trickle in too slowly to fill a fragment."""
        self._segmenter.flush(fragment_ns)

    def disconnected(self, cause: str) -> None:
        """The connection failed or ended: close what was recorded and open an outage record."""
        log.warning("camera %s: %s", self.name, cause)
        last = self._last_pts
        start = self._segmenter.wall_utc(last) if self._segmenter.recording and last is not None else utcnow()
        try:
            self._segmenter.end()
        except Exception as exc:  # storage refused even the close: the partial stays for recovery
            log.error("camera %s: closing segment failed: %s", self.name, exc)
        self._last_pts = None
        self._fresh_connection = False
        self.status.last_error = cause
        if self.status.state is State.RECORDING:
            self.status.reconnects += 1
        self._set_state(State.OFFLINE)
        self.live.gone(cause)
        if self._outage is None:
            self._open_outage(start, cause)

    def stop(self) -> None:
        try:
            self._segmenter.end()
        finally:
            self._set_state(State.STOPPED)

    # -- internals --------------------------------------------------------------------------------

    def _timeline_start(self, au: AccessUnit) -> int:
        """Media time stays monotonic across reconnects and restarts and keeps the wall-clock gap."""
        if self._end_utc is None:
            return self._end_90k
        gap_us = (dt.datetime.fromtimestamp(au.received_ns / 1e9, dt.UTC) - self._end_utc) / dt.timedelta(
            microseconds=1
        )
        return self._end_90k + max(0, round(gap_us * 9 / 100))

    def _recording_started(self, at: dt.datetime) -> None:
        self._set_state(State.RECORDING)
        self.status.last_error = None
        if self._outage is not None:
            ref, self._outage = self._outage, None

            def close() -> None:
                if ref.id is not None:
                    with self._db.session() as s:
                        close_outage(s, ref.id, at)

            self._flusher.call(f"close outage of {self.name}", close)

    def open_outage_now(self, cause: str) -> None:
        """A connection attempt failed before any picture: the camera is in an outage from now."""
        self.status.last_error = cause
        self._set_state(State.OFFLINE)
        if self._outage is None:
            self._open_outage(utcnow(), cause)

    def _open_outage(self, start: dt.datetime, cause: str) -> None:
        ref = _OutageRef()
        self._outage = ref

        def write() -> None:
            with self._db.session() as s:
                ref.id = open_outage(s, self.name, start, cause)

        self._flusher.call(f"open outage of {self.name}", write)

    def _publish(self, writer: PartialWriter, rec: SegmentRecord) -> None:
        self._end_90k = rec.start_90k + rec.duration_90k
        self._end_utc = rec.end_utc
        self.status.segments_published += 1

        def commit() -> None:
            writer.commit()
            with self._db.session() as s:
                index_segment(s, rec)

        self._flusher.call(f"publish {rec.storage_key}", commit)

    def _set_state(self, state: State) -> None:
        if self.status.state is not state:
            self.status.state = state
            self.status.since_utc = utcnow()
