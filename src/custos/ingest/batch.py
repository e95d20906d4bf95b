"""Recorder candidate 'batch': one thread drains every camera's RTSP/TCP socket in large reads.

FFmpeg's RTSP demuxer makes several recv/poll calls per RTP packet (FACTS.md: ~2,500 a second per
4 Mbit/s stream). Here each socket is read once per `read_interval_ms` with whatever has arrived
(tens of kilobytes), and RTP is depacketized in Python by `custos.ingest.rtsp`. Handshakes, which
block on the network, run in a small thread pool so a slow camera never stalls the others.
"""

from __future__ import annotations

import logging
import selectors
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from custos.config import RecorderSettings
from custos.errors import CustosError
from custos.ingest.backoff import Backoff
from custos.ingest.camera import CameraRecorder, State
from custos.ingest.rtsp import RtspSession
from custos.media.types import AccessUnit, StreamParams

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    cam: CameraRecorder
    backoff: Backoff
    session: RtspSession | None = None
    future: Future[tuple[RtspSession, StreamParams]] | None = None
    retry_at: float = 0.0
    last_data: float = 0.0


class BatchClient:
    name = "batch"

    def __init__(self, settings: RecorderSettings) -> None:
        self._s = settings

    def _handshake(self, url: str) -> tuple[RtspSession, StreamParams]:
        session = RtspSession(url, timeout_s=self._s.rtsp_timeout_s)
        try:
            params = session.connect()
        except BaseException:
            session.close()
            raise
        return session, params

    def run(self, cams: list[CameraRecorder], stop: threading.Event) -> None:
        s = self._s
        slots = [_Slot(cam, Backoff(s.reconnect_min_s, s.reconnect_max_s)) for cam in cams]
        sel = selectors.DefaultSelector()
        interval = s.read_interval_ms / 1000
        fragment_ns = s.fragment_ms * 1_000_000
        next_tick = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(cams))), thread_name_prefix="custos-rtsp") as pool:
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    for slot in slots:
                        self._connect_step(slot, now, pool, sel)
                    for key, _ in sel.select(timeout=0):
                        self._read(key.data, now, sel)
                    for slot in slots:
                        if slot.session is None:
                            continue
                        if now - slot.last_data > s.rtsp_timeout_s:
                            self._drop(slot, sel, now, f"no data from the camera for {s.rtsp_timeout_s:g} s")
                        elif slot.session.keepalive_due():
                            try:
                                slot.session.send_keepalive()
                            except CustosError as exc:
                                self._drop(slot, sel, now, str(exc))
                    if now >= next_tick:
                        next_tick = now + fragment_ns / 1e9 / 2
                        for slot in slots:
                            self._guard(slot, sel, now, lambda c=slot.cam: c.tick(fragment_ns))
                    stop.wait(max(0.0, interval - (time.monotonic() - now)))
            finally:
                for slot in slots:
                    if slot.future is not None:
                        slot.future.cancel()
                        if slot.future.done() and not slot.future.cancelled() and slot.future.exception() is None:
                            slot.future.result()[0].close()
                    if slot.session is not None:
                        sel.unregister(slot.session)
                        slot.session.close()
                    try:
                        slot.cam.stop()
                    except Exception:  # one camera's storage error must not keep the others open
                        log.exception("camera %s: closing its segment failed; recovery will close it", slot.cam.name)
                sel.close()

    def _connect_step(self, slot: _Slot, now: float, pool: ThreadPoolExecutor, sel: selectors.BaseSelector) -> None:
        if slot.session is None and slot.future is None and now >= slot.retry_at:
            slot.future = pool.submit(self._handshake, slot.cam.url)
            return
        if slot.future is None or not slot.future.done():
            return
        future, slot.future = slot.future, None
        try:
            session, params = future.result()
        except CustosError as exc:
            slot.cam.open_outage_now(str(exc))
            slot.retry_at = now + slot.backoff.next_delay()
            return
        except Exception as exc:  # a bug or an OS error in the handshake: same treatment, logged
            log.exception("camera %s: handshake failed", slot.cam.name)
            slot.cam.open_outage_now(f"connection failed: {exc}")
            slot.retry_at = now + slot.backoff.next_delay()
            return
        slot.session, slot.last_data = session, now
        slot.cam.connected(params)
        sel.register(session, selectors.EVENT_READ, slot)

    def _read(self, slot: _Slot, now: float, sel: selectors.BaseSelector) -> None:
        session = slot.session
        assert session is not None
        try:
            aus = session.read_batch()
        except CustosError as exc:
            self._drop(slot, sel, now, str(exc))
            return
        if not aus:
            return
        slot.last_data = now
        self._guard(slot, sel, now, lambda: self._deliver(slot.cam, aus, session.param_changes))
        if slot.cam.status.state is State.RECORDING:
            slot.backoff.reset()

    @staticmethod
    def _deliver(cam: CameraRecorder, aus: list[AccessUnit], changes: list[tuple[int, StreamParams]]) -> None:
        """Pictures in order, with new parameter sets applied from the picture they arrived with."""
        start = 0
        for index, params in changes:
            cam.pictures(aus[start:index])
            cam.params_changed(params)
            start = index
        cam.pictures(aus[start:])

    def _guard(self, slot: _Slot, sel: selectors.BaseSelector, now: float, fn: Callable[[], object]) -> None:
        """Run a recorder step; storage refusing writes ends the connection with that as the cause."""
        try:
            fn()
        except CustosError as exc:
            if slot.session is not None:
                self._drop(slot, sel, now, str(exc))
            else:
                slot.cam.open_outage_now(str(exc))

    def _drop(self, slot: _Slot, sel: selectors.BaseSelector, now: float, cause: str) -> None:
        if slot.session is not None:
            sel.unregister(slot.session)
            slot.session.close()
            slot.session = None
        slot.cam.disconnected(cause)
        slot.retry_at = now + slot.backoff.next_delay()
