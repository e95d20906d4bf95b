"""The recorder: one process, many cameras. Recovery first, then the chosen ingest client.

Wiring only: the catalog says which cameras to record, CameraRecorder turns pictures into segments
and outage records, the Flusher makes them durable, the client (batch or pyav) brings the bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera
from custos.catalog.records import open_outage_id, timeline_end
from custos.config import Settings
from custos.ingest.camera import CameraRecorder, CameraStatus
from custos.ingest.flusher import Flusher
from custos.ingest.live import LiveTap
from custos.ingest.recovery import RecoveryReport, recover
from custos.storage.base import Storage, WriterLock

if TYPE_CHECKING:
    from custos.health.monitor import HealthMonitor

log = logging.getLogger(__name__)


class IngestClient(Protocol):
    name: str

    def run(self, cams: list[CameraRecorder], stop: threading.Event) -> None: ...


def make_client(settings: Settings) -> IngestClient:
    if settings.recorder.backend == "pyav":
        from custos.ingest.pyav_client import PyAVClient

        return PyAVClient(settings.recorder)
    from custos.ingest.batch import BatchClient

    return BatchClient(settings.recorder)


class Recorder:
    def __init__(self, settings: Settings, db: Database, storage: Storage, *, cameras: list[str] | None = None) -> None:
        self._settings = settings
        self._db = db
        self._storage = storage
        self._only = cameras
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cams: list[CameraRecorder] = []
        self.recovery: RecoveryReport | None = None
        self.disk_alarm: str | None = None
        self.flusher: Flusher | None = None
        self._lock: WriterLock | None = None
        self.health: HealthMonitor | None = None  # set by custos.health.service when checks run

    def prepare(self) -> RecoveryReport:
        """Recover what a crash left, then build one CameraRecorder per enabled camera in use: a camera only
        registered is not yet in use (HB-11: it goes into use when activated), a dismantled one no longer."""
        self._lock = self._storage.lock_writer()
        self.recovery = recover(self._storage, self._db, locked=True)
        self.flusher = Flusher()
        with self._db.session() as s:
            rows = s.scalars(
                select(Camera).where(Camera.enabled.is_(True), Camera.status == "active").order_by(Camera.name)
            ).all()
            self.cams = [
                CameraRecorder(
                    cam.name,
                    cam.url,
                    storage=self._storage,
                    db=self._db,
                    flusher=self.flusher,
                    segment_s=self._settings.recorder.segment_s,
                    fragment_ms=self._settings.recorder.fragment_ms,
                    timeline_end=timeline_end(s, cam.id),
                    ongoing_outage=open_outage_id(s, cam.id),
                )
                for cam in rows
                if self._only is None or cam.name in self._only
            ]
        return self.recovery

    def start(self) -> None:
        if self.flusher is None:
            self.prepare()
        client = make_client(self._settings)
        log.info("recording %d camera(s) with the %s client", len(self.cams), client.name)
        self._thread = threading.Thread(
            target=client.run, args=(self.cams, self._stop), name="custos-ingest", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self._watch_disk, name="custos-disk", daemon=True).start()

    def _watch_disk(self) -> None:
        """Alarm when free space runs short; never delete unexpired footage to make room."""
        floor = self._settings.recorder.min_free_bytes
        while True:
            try:
                free = self._storage.free_bytes()
                alarm = f"storage has {free} bytes free, below the {floor} byte floor" if free < floor else None
            except OSError as exc:
                alarm = f"cannot read the free space of storage: {exc}"
            if alarm and self.disk_alarm is None:
                log.error("disk alarm: %s; recording goes on as long as writes succeed", alarm)
            self.disk_alarm = alarm
            if self._stop.wait(5.0):
                return

    def status(self) -> list[CameraStatus]:
        return [c.status for c in self.cams]

    def live(self, camera: str) -> LiveTap | None:
        """The live tap of `camera`, or None if this recorder does not record it."""
        return next((c.live for c in self.cams if c.name == camera), None)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop ingest, close and publish every open segment, and wait until all is durable."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self.flusher is not None:
            self.flusher.drain(timeout_s)
            self.flusher.close()
            self.flusher = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def wait_frames(self, frames: int, timeout_s: float) -> bool:
        """For tests and benchmarks: until every camera has recorded `frames` frames."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.cams and all(c.status.frames_recorded >= frames for c in self.cams):
                return True
            time.sleep(0.1)
        return False
