"""The health monitor: every recorded camera checked all the time, on keyframes tapped from the recorder.

A person on duty looking at a wall misses a covered lens for hours; custos looks at one keyframe per camera
every `health.interval_s` (HB-17.4, BJ-12.3: keep the picture clear; HB-18.1, BJ-12.4, CN-23: no moving or
blocking cameras). It taps the recorder's own stream (`LiveTap`), so a check costs no second connection
to the camera, and it decodes keyframes only.

Threads: the tap's callback runs on the ingest thread and only notes the time and keeps the newest due
keyframe (it never waits); one worker thread decodes, checks and writes events. A fault is raised after it
persists and cleared when it has ended (`custos.health.tracker`), each start and end an event in the
catalog and the ledger (`custos.events.records`), then handed to the sinks (MQTT). Signal loss (no
picture for `health.signal_loss_s`) is judged here, not on a picture.

Reference views: the first clear keyframe after each registration of a camera becomes its reference view
(stored, hashed in the ledger); displacement is judged against it. A displaced camera stays displaced
(a finding: `custos.findings`) until it is registered again, which takes a new reference view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Event, ReferenceView
from custos.config import Settings
from custos.events.records import end_event, event_payload, open_event
from custos.health import REFERENCES
from custos.health.analysis import FAULT_KINDS, Reference, Thresholds, analysis_mask, look, prepare
from custos.health.holds import hold_for
from custos.health.keyframes import keyframe_luma
from custos.health.tracker import Tracker
from custos.ingest.live import Gone, LiveTap, Picture
from custos.ledger import log as ledger
from custos.media.masks import Polygon, black_out, check_masks
from custos.media.types import AccessUnit, StreamParams
from custos.policy import Policy
from custos.storage.base import Storage

log = logging.getLogger(__name__)

RELOAD_S = 15.0  # cameras' thresholds, masks and registrations are re-read this often
PICTURE_WIDTH = 640  # the reference view's picture, for the console's side by side
GAP_S = 1.0  # pictures further apart than this are not flowing
SIGNAL_BACK_S = 2.0  # signal loss clears once pictures have flowed this long without a gap: a hung camera
# sends one preroll picture to each new connection, which must not end the loss and raise it again


class EventSink(Protocol):
    def event(self, payload: dict[str, Any]) -> None: ...

    def status(self, camera: str, status: dict[str, Any]) -> None: ...


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


@dataclass
class _Cam:
    name: str
    tap: LiveTap
    thresholds: Thresholds = field(default_factory=Thresholds)
    masks: list[Polygon] = field(default_factory=list)
    registration: int = 0
    reference: Reference | None = None
    ref_registration: int | None = None
    tracker: Tracker | None = None
    previous: np.ndarray | None = None
    mask: np.ndarray | None = None
    mask_key: tuple[Any, ...] | None = None
    last_picture: float = field(default_factory=time.monotonic)
    flowing_since: float = field(default_factory=time.monotonic)  # first picture after the last gap
    last_checked: float = -1e18
    due: tuple[StreamParams, AccessUnit] | None = None
    gone_cause: str | None = None
    open: dict[str, int] = field(default_factory=dict)  # kind -> open event id
    seen_since: dict[str, dt.datetime] = field(default_factory=dict)
    clean_since: dict[str, dt.datetime] = field(default_factory=dict)
    clean_looks: dict[str, int] = field(default_factory=dict)
    checked: int = 0
    last_look: dict[str, Any] = field(default_factory=dict)
    stop_watching: Callable[[], None] | None = None


class HealthMonitor:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        policy: Policy,
        taps: Sequence[LiveTap],
        sinks: Sequence[EventSink] = (),
    ) -> None:
        self.settings = settings.health
        self.policy = policy
        self.db = db
        self.storage = storage
        self.sinks = list(sinks)
        self._cams = {t.camera: _Cam(t.camera, t) for t in taps}
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        # OpenCV's thread pool (process-wide) buys wall time nobody waits for here, at a CPU cost: a 1080p
        # keyframe's prepare + look took 3.5 CPU-ms with it on 2 cores, 2.9 without (as bench/health.py runs).
        cv2.setNumThreads(1)
        self._recover_open_events()
        self.reload()
        for cam in self._cams.values():
            cam.stop_watching = cam.tap.watch(self._watcher(cam))
            self._publish_status(cam)
        self._thread = threading.Thread(target=self._run, name="custos-health", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        for cam in self._cams.values():
            if cam.stop_watching is not None:
                cam.stop_watching()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- what the console and the sinks read --------------------------------------------------------

    def status(self, camera: str) -> dict[str, Any] | None:
        cam = self._cams.get(camera)
        return None if cam is None else self._status_of(cam)

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {name: self._status_of(cam) for name, cam in self._cams.items()}

    def _status_of(self, cam: _Cam) -> dict[str, Any]:
        with self._lock:
            kinds = sorted(cam.open)
        faults = [k for k in kinds if k != "motion"]
        state = "offline" if "signal_loss" in faults else "faulty" if faults else "ok"
        return {
            "camera": cam.name,
            "state": state,
            "faults": faults,
            "motion": "motion" in kinds,
            "checked": cam.checked,
            "reference": cam.reference is not None,
            "measures": cam.last_look,
        }

    # -- the ingest thread --------------------------------------------------------------------------

    def _watcher(self, cam: _Cam) -> Callable[[Picture | Gone], None]:
        interval = self.settings.interval_s

        def watch(item: Picture | Gone) -> None:
            if isinstance(item, Gone):
                cam.gone_cause = item.cause
                return
            now = time.monotonic()
            if now - cam.last_picture > GAP_S:
                cam.flowing_since = now
            cam.last_picture = now
            if item.au.is_key and now - cam.last_checked >= interval:
                cam.last_checked = now
                cam.due = (item.params, item.au)
                self._queue.put(cam.name)

        return watch

    # -- the worker -----------------------------------------------------------------------------------

    def _run(self) -> None:
        next_reload = time.monotonic() + RELOAD_S
        while not self._stop.is_set():
            try:
                name = self._queue.get(timeout=0.5)
            except queue.Empty:
                name = None
            try:
                if name is not None:
                    self._check(self._cams[name])
                self._signal_checks()
                if time.monotonic() >= next_reload:
                    next_reload = time.monotonic() + RELOAD_S
                    self.reload()
            except Exception:  # noqa: BLE001 - the monitor outlives any one failure; the recording is not touched
                log.exception("health check of %s failed", name or "the cameras")

    def reload(self) -> None:
        """Re-read each camera's thresholds, masks, registration and reference view from the catalog."""
        with self.db.session() as s:
            rows = {c.name: c for c in s.scalars(select(Camera).where(Camera.name.in_(list(self._cams))))}
            refs = {
                r.camera_id: r
                for r in s.scalars(select(ReferenceView).order_by(ReferenceView.registration, ReferenceView.id))
            }
            for name, cam in self._cams.items():
                row = rows.get(name)
                if row is None:
                    continue
                try:
                    thresholds = Thresholds.from_mapping(row.health or {})
                except ValueError as exc:
                    log.error("camera %s: health thresholds %s; using the defaults", name, exc)
                    thresholds = Thresholds()
                if thresholds != cam.thresholds or cam.tracker is None:
                    # A new tracker knows nothing raised: open events go on until it raises them again (no
                    # second event) or they are clean for clear_after looks (`_orphans`).
                    cam.thresholds = thresholds
                    cam.tracker = Tracker(thresholds, sticky=frozenset({"displaced"}))
                cam.masks = check_masks(row.image_masks or [])
                cam.registration = row.registration
                ref = refs.get(row.id)
                if ref is not None and ref.registration != cam.ref_registration:
                    try:
                        cam.reference = Reference.from_png(self.storage.read(ref.storage_key))
                        cam.ref_registration = ref.registration
                    except Exception as exc:  # noqa: BLE001
                        log.error("camera %s: reference view %s does not load: %s", name, ref.storage_key, exc)

    def _check(self, cam: _Cam) -> None:
        due, cam.due = cam.due, None
        if due is None or cam.tracker is None:
            return
        params, au = due
        at = _utc(au.received_ns) if au.received_ns else dt.datetime.now(dt.UTC)
        luma = keyframe_luma(params, au)
        if luma is None:
            log.warning("camera %s: a keyframe did not decode", cam.name)
            return
        small = prepare(luma)
        key = (small.shape, tuple(map(tuple, map(tuple, cam.masks))))
        if key != cam.mask_key:
            cam.mask, cam.mask_key = analysis_mask(cam.masks, small.shape), key
        if cam.ref_registration is None or cam.ref_registration < cam.registration:
            self._take_reference(cam, luma, small, at)
        seen = look(
            small,
            previous=cam.previous,
            reference=cam.reference,
            mask=cam.mask,
            thresholds=cam.thresholds,
            raised=cam.tracker.raised,
        )
        cam.previous = small
        cam.checked += 1
        cam.last_look = {k: round(float(v), 4) for k, v in seen.measures.items()}
        for kind in (*FAULT_KINDS, "motion"):
            present = kind in seen.faults or (kind == "motion" and seen.motion)
            (cam.seen_since if present else cam.clean_since).setdefault(kind, at)
            (cam.clean_since if present else cam.seen_since).pop(kind, None)
            cam.clean_looks[kind] = 0 if present else cam.clean_looks.get(kind, 0) + 1
        changed = False
        for ch in cam.tracker.update(seen):
            if ch.raised:
                detail = {"why": ch.look.why(ch.kind) if ch.kind != "motion" else "the picture changed"}
                detail["measures"] = cam.last_look
                self._raise(cam, ch.kind, cam.seen_since.get(ch.kind, at), detail)
            else:
                detail = {"why": "not seen on the last keyframes", "measures": cam.last_look}
                self._clear(cam, ch.kind, cam.clean_since.get(ch.kind, at), detail)
            changed = True
        changed |= self._orphans(cam, at)
        if changed:
            self._publish_status(cam)

    def _orphans(self, cam: _Cam, at: dt.datetime) -> bool:
        """Clear open events the tracker does not hold (left by a restart or a change of thresholds) once
        they have been clean for clear_after looks; a displaced camera waits for its re-registration."""
        assert cam.tracker is not None
        cleared = False
        for kind in [k for k in cam.open if k not in ("signal_loss", "displaced") and k not in cam.tracker.raised]:
            since = cam.clean_since.get(kind)
            if since is not None and cam.clean_looks.get(kind, 0) >= cam.thresholds.clear_after:
                self._clear(cam, kind, since, {"why": "not seen on the last keyframes", "measures": cam.last_look})
                cleared = True
        return cleared

    def _signal_checks(self) -> None:
        now = time.monotonic()
        wall = dt.datetime.now(dt.UTC)
        for cam in self._cams.values():
            silent = now - cam.last_picture
            lost = "signal_loss" in cam.open
            if not lost and silent > self.settings.signal_loss_s:
                since = wall - dt.timedelta(seconds=silent)
                why = f"no picture for {silent:.0f} s (more than {self.settings.signal_loss_s:g} s)"
                self._raise(cam, "signal_loss", since, {"why": why, "cause": cam.gone_cause})
                self._publish_status(cam)
            elif lost and silent < GAP_S and now - cam.flowing_since >= SIGNAL_BACK_S:
                cam.gone_cause = None
                back = wall - dt.timedelta(seconds=now - cam.flowing_since)
                self._clear(cam, "signal_loss", back, {"why": "pictures again"})
                self._publish_status(cam)

    # -- events ---------------------------------------------------------------------------------------

    def _raise(self, cam: _Cam, kind: str, at: dt.datetime, detail: dict[str, Any]) -> None:
        if kind in cam.open:
            return
        # The lock spans the commit, so no reader sees the event in the catalog before the status shows it.
        with self._lock:
            with self.db.session() as s:
                e = open_event(s, cam.name, kind, source="health", at=at, detail=detail)
                hold = hold_for(s, self.policy, self.settings, cam.name, kind, at, e.id)
                if hold is not None:
                    e.hold_id = hold.id
                payload = event_payload(e, cam.name)
            cam.open[kind] = payload["id"]
        log.warning("camera %s: %s raised: %s", cam.name, kind, detail.get("why"))
        self._emit(payload)

    def _clear(self, cam: _Cam, kind: str, at: dt.datetime, detail: dict[str, Any]) -> None:
        event_id = cam.open.get(kind)
        if event_id is None:
            return
        with self._lock:
            with self.db.session() as s:
                e = s.get(Event, event_id)
                assert e is not None
                end_event(s, e, at=at, detail=detail)
                payload = event_payload(e, cam.name)
            cam.open.pop(kind, None)
        log.warning("camera %s: %s cleared: %s", cam.name, kind, detail.get("why"))
        self._emit(payload)

    def publish(self, payload: dict[str, Any]) -> None:
        """Hand an event written elsewhere (an operator's) to the sinks."""
        self._emit(payload)

    def _emit(self, payload: dict[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.event(payload)
            except Exception:  # noqa: BLE001 - a sink is not the record; the catalog and the ledger are
                log.exception("event sink %r failed", sink)

    def _publish_status(self, cam: _Cam) -> None:
        status = self._status_of(cam)
        for sink in self.sinks:
            try:
                sink.status(cam.name, status)
            except Exception:  # noqa: BLE001
                log.exception("status sink %r failed", sink)

    def _recover_open_events(self) -> None:
        """Events left open by the previous run go on (the tracker starts raised) rather than twice."""
        with self.db.session() as s:
            rows = s.execute(
                select(Event.id, Event.kind, Camera.name)
                .join(Camera, Camera.id == Event.camera_id)
                .where(Event.end_utc.is_(None), Event.source == "health", Camera.name.in_(list(self._cams)))
            ).all()
        for event_id, kind, name in rows:
            self._cams[name].open[kind] = event_id

    # -- reference views ------------------------------------------------------------------------------

    def _take_reference(self, cam: _Cam, luma: np.ndarray, small: np.ndarray, at: dt.datetime) -> None:
        """The camera's first clear keyframe of this registration becomes its reference view."""
        probe = look(small, previous=None, reference=None, mask=cam.mask, thresholds=cam.thresholds)
        if probe.faults:
            return  # a dark or covered picture is no reference: wait for a clear one
        ref = Reference.of(small)
        png = ref.to_png()
        digest = hashlib.sha256(png).hexdigest()
        base = f"{REFERENCES}{cam.name}/{cam.registration:04d}-{digest[:16]}"
        h, w = luma.shape
        pic = cv2.resize(np.ascontiguousarray(luma), (PICTURE_WIDTH, max(2, h * PICTURE_WIDTH // w)))
        ok, jpeg = cv2.imencode(".jpg", black_out(pic, cam.masks), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return
        picture = jpeg.tobytes()
        self.storage.put(f"{base}.png", png)  # durable before the row that names it commits
        self.storage.put(f"{base}.jpg", picture)
        with self.db.session() as s:
            camera_id = s.scalar(select(Camera.id).where(Camera.name == cam.name))
            entry = ledger.append(
                s,
                "reference_view",
                {
                    "camera": cam.name,
                    "registration": cam.registration,
                    "storage_key": f"{base}.png",
                    "sha256": digest,
                    "picture_key": f"{base}.jpg",
                    "picture_sha256": hashlib.sha256(picture).hexdigest(),
                    "taken_at": at,
                },
                at=at,
            )
            s.add(
                ReferenceView(
                    camera_id=camera_id,
                    registration=cam.registration,
                    taken_at=at,
                    storage_key=f"{base}.png",
                    picture_key=f"{base}.jpg",
                    sha256=digest,
                    seq=entry.seq,
                )
            )
        replaced = cam.ref_registration is not None
        cam.reference, cam.ref_registration = ref, cam.registration
        cam.previous = None
        log.info("camera %s: reference view taken for registration %d", cam.name, cam.registration)
        if replaced and "displaced" in cam.open:
            if cam.tracker is not None:
                cam.tracker.reset("displaced")
            self._clear(cam, "displaced", at, {"why": "registered again: a new reference view was taken"})
            self._publish_status(cam)
