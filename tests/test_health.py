"""Health and tamper checks end to end: the simulator breaks a live camera's picture, the real recorder records
it, the health monitor sees it on the recorder's keyframes, raises a fault event (catalog, ledger, MQTT) after
it persists and clears it when it ends (HB-17.4, BJ-12.3, HB-18.1, BJ-12.4, CN-23)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mqtt_sub import HOST, PORT, Subscriber, subscribed, unique_prefix
from sqlalchemy import delete, select, update

from custos.catalog.db import Database
from custos.catalog.models import Camera, Event, Hold, LedgerEntry, ReferenceView
from custos.findings.evaluate import evaluate
from custos.health.monitor import SIGNAL_BACK_S
from custos.health.service import HealthService, start_health
from custos.ingest.recorder import Recorder
from custos.registry.cameras import reregister_camera
from custos.registry.reports import report_outage
from custos.sim import CameraSpec, SimCameras
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD, Deployment, make_deployment, principal_of

SPEC = CameraSpec("cam01", codec="clock", width=640, height=360, fps=10, bitrate_kbps=600, gop_s=1)
FAULTS = {"black": "dark", "overexposed": "overexposed", "cover": "occluded", "blur": "blurred", "still": "frozen"}
# One keyframe a second, raised after 2 looks and cleared after 2: the defaults (10 s, 3, 2) made quick.
QUICK = {"raise_after": 2, "clear_after": 2}


class Live:
    def __init__(
        self, dep: Deployment, sim: SimCameras, rec: Recorder, health: HealthService, sub: Subscriber, prefix: str
    ):
        self.dep, self.sim, self.rec, self.health, self.sub, self.prefix = dep, sim, rec, health, sub, prefix

    def events(self, kind: str) -> list[Event]:
        with self.dep.db.session() as s:
            return list(
                s.scalars(
                    select(Event).join(Camera).where(Camera.name == "cam01", Event.kind == kind).order_by(Event.id)
                )
            )

    def wait(self, what: str, cond: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = cond()
            if got:
                return got
            time.sleep(0.2)
        raise AssertionError(f"{what} did not happen in {timeout_s} s; status {self.health.monitor.status('cam01')}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("health")
    db = Database(f"sqlite:///{tmp / 'catalog.db'}")
    db.migrate()
    prefix = unique_prefix()
    dep = make_deployment(
        tmp,
        db,
        None,
        packs=("CN", "HB"),
        recorder={"segment_s": 2.0, "rtsp_timeout_s": 3.0, "reconnect_min_s": 0.3, "reconnect_max_s": 1.0},
        health={"interval_s": 0, "signal_loss_s": 3},
        mqtt={"enabled": True, "host": HOST, "port": PORT, "topic_prefix": prefix, "discovery_prefix": None},
    )
    with SimCameras([SPEC]) as sim, subscribed(f"{prefix}/#") as sub:
        with dep.db.session() as s:
            s.execute(update(Camera).where(Camera.name == "cam01").values(url=sim.url("cam01"), health=QUICK))
            s.execute(update(Camera).where(Camera.name != "cam01").values(enabled=False))
        rec = Recorder(dep.settings, dep.db, dep.ctx.storage)
        rec.prepare()
        rec.start()
        health = start_health(dep.settings, dep.db, dep.ctx.storage, dep.ctx.policy, rec)
        assert health is not None
        try:
            assert rec.wait_frames(10, 30), "the camera did not start recording"
            yield Live(dep, sim, rec, health, sub, prefix)
        finally:
            health.stop()
            rec.stop()
    db.dispose()


def test_a_reference_view_is_taken_from_the_first_clear_keyframe(live: Live) -> None:
    def taken() -> list[ReferenceView]:
        with live.dep.db.session() as s:
            return list(s.scalars(select(ReferenceView)))

    [ref] = live.wait("a reference view", taken)
    assert ref.registration == 0 and live.dep.ctx.storage.exists(ref.storage_key)
    with live.dep.db.session() as s:
        entry = s.get(LedgerEntry, ref.seq)
        assert entry is not None and json.loads(entry.data)["sha256"] == ref.sha256
    assert live.wait("a clean look", lambda: live.health.monitor.status("cam01")["checked"] >= 3)
    assert live.health.monitor.status("cam01")["state"] == "ok"
    assert not live.events("dark") and not live.events("occluded")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_raised_while_it_lasts_and_cleared_after(live: Live, fault: str) -> None:
    kind = FAULTS[fault]
    before = len(live.events(kind))
    live.sim.fault("cam01", fault)
    try:
        event = live.wait(f"{kind} raised", lambda: live.events(kind)[before:])[0]
        assert event.end_utc is None and event.source == "health" and event.detail["why"]
        # HB-17.6 as the HB pack reads it: a covered camera's footage goes on hold; a dark one's does not
        assert (event.hold_id is not None) == (kind == "occluded")
        if event.hold_id is not None:
            with live.dep.db.session() as s:
                hold = s.get(Hold, event.hold_id)
                assert hold is not None and hold.retention_class == "serious" and "HB-17.6" in hold.reason
                assert hold.start_utc < event.start_utc < hold.end_utc
        assert live.health.monitor.status("cam01")["state"] == "faulty"
    finally:
        live.sim.fault("cam01", None)
    ended = live.wait(f"{kind} cleared", lambda: [e for e in live.events(kind)[before:] if e.end_utc is not None])
    assert len(live.events(kind)) == before + 1, "one fault, one event"
    assert ended[0].end_seq is not None and ended[0].end_utc >= ended[0].start_utc
    # the documented payload arrived on a real subscriber, start and end
    topic = f"{live.prefix}/cameras/cam01/events"
    _, started = live.sub.wait_for(lambda t, p: t == topic and p["id"] == event.id and p["state"] == "start")
    assert started["kind"] == kind and started["camera"] == "cam01" and started["source"] == "health"
    assert started["detail"]["why"] == event.detail["why"] and started["seq"] == event.seq
    live.sub.wait_for(lambda t, p: t == topic and p["id"] == event.id and p["state"] == "end")
    live.wait("ok again", lambda: live.health.monitor.status("cam01")["state"] == "ok")


def test_signal_loss_is_raised_when_no_picture_comes_and_cleared_when_they_do(live: Live) -> None:
    before = len(live.events("signal_loss"))
    live.sim.freeze("cam01")  # the camera hangs: the connection stays, no picture leaves it
    try:
        live.wait("signal loss", lambda: live.events("signal_loss")[before:])
        assert live.health.monitor.status("cam01")["state"] == "offline"
        status_topic = f"{live.prefix}/cameras/cam01/status"
        live.sub.wait_for(lambda t, p: t == status_topic and p["state"] == "offline")

        # the recorder gives up on the silent connection (3 s) and connects again; the hung camera sends each new
        # connection one preroll picture, which is not the signal back: the loss goes on, one event
        def reconnects() -> int:
            return next(c.reconnects for c in live.rec.status() if c.name == "cam01")

        first = reconnects()
        live.wait("a reconnection", lambda: reconnects() > first)
        time.sleep(SIGNAL_BACK_S + 0.5)
        assert [e.end_utc for e in live.events("signal_loss")[before:]] == [None]
        assert live.health.monitor.status("cam01")["state"] == "offline"
    finally:
        live.sim.thaw("cam01")
    live.wait(
        "signal back",
        lambda: live.events("signal_loss")[before].end_utc is not None and live.events("signal_loss")[before],
        45,
    )


def test_a_moved_camera_is_a_finding_until_it_is_registered_again(live: Live) -> None:
    dep = live.dep
    live.sim.fault("cam01", "shift")
    try:
        [moved] = live.wait("displaced", lambda: live.events("displaced"))
        with dep.db.session() as s:
            found = [
                f
                for f in evaluate(s, dep.ctx.policy, dep.settings.registry, dt.datetime.now(dt.UTC))
                if f.code == "camera.moved"
            ]
        assert found and {"HB-18.1", "CN-23"} <= set(found[0].keys)
    finally:
        live.sim.fault("cam01", None)  # put back: it stays displaced until registered again
    time.sleep(4)
    assert live.events("displaced")[0].end_utc is None
    # the side by side: its reference view through the gate, with an access record
    client = TestClient(create_app(dep.ctx, live.rec))
    r = client.get(
        "/api/v1/cameras/cam01/reference.jpg",
        params={"purpose": "check the camera's view"},
        headers={"Authorization": f"Bearer {dep.tokens['admin']}"},
    )
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8" and int(r.headers["X-Custos-Access-Record"]) > 0
    health = client.get("/api/v1/cameras/cam01/health", headers={"Authorization": f"Bearer {dep.tokens['admin']}"})
    assert health.json()["faults"] == ["displaced"] and health.json()["reference"]["current"] is True
    # the console: the camera is faulty, and a click sets its reference view beside its picture now
    with serve(create_app(dep.ctx, live.rec)) as url, chromium() as browser:
        page = browser.new_page()
        log_in(page, url, "admin", PASSWORD)
        page.wait_for_selector("#cameras td.faulty button:has-text('displaced')")
        page.fill("#purpose", "check the moved camera")
        page.click("#cameras td.faulty button")
        page.wait_for_function(
            "() => { const i = [...document.querySelectorAll('#health-panel img')];"
            " return i.length === 2 && i.every(x => x.complete && x.naturalWidth > 0); }",
            timeout=20_000,
        )
        assert "displaced since" in page.inner_text("#health-panel")
    with dep.db.session() as s:
        cam_id = s.scalar(select(Camera.id).where(Camera.name == "cam01"))
        reregister_camera(
            s,
            dep.ctx.policy,
            principal_of(dep, "admin"),
            cam_id,
            reason="turned to the new gate",
            position=[10.0, 10.0],
            heading_deg=90.0,
            fov=[[10.0, 10.0], [30.0, 0.0], [30.0, 20.0]],
            signage=True,
        )
    live.health.monitor.reload()
    ended = live.wait(
        "re-registered", lambda: live.events("displaced")[0].end_utc is not None and live.events("displaced")[0]
    )
    assert "registered again" in ended.end_detail["why"]
    with dep.db.session() as s:
        assert len(s.scalars(select(ReferenceView)).all()) == 2
        assert not [
            f
            for f in evaluate(s, dep.ctx.policy, dep.settings.registry, dt.datetime.now(dt.UTC))
            if f.code == "camera.moved"
        ]
        # the faults feed the unit's report to its PSB (HB-17.4)
        report = report_outage(
            s, dep.ctx.policy, principal_of(dep, "admin"), unit_id=moved_unit(s), description="faults of cam01"
        )
        assert moved.id in report.events


def moved_unit(s: Any) -> int:
    return int(s.scalar(select(Camera.unit_id).where(Camera.name == "cam01")))


def test_verify_finds_a_swapped_reference_view_and_a_deleted_event(live: Live) -> None:
    """An inspector proves the health record whole: reference views and events against the ledger."""
    from custos.verify import verify

    dep = live.dep
    assert dep.ctx.publisher is not None and dep.ctx.publisher.publish() is not None

    def ours() -> list[str]:
        report = verify(dep.settings, dep.ctx.policy, footage=True)
        return sorted(f.code for f in report.findings if f.code.startswith(("reference.", "event.", "segment.extra")))

    assert ours() == []
    with dep.db.session() as s:
        ref = s.scalars(select(ReferenceView).order_by(ReferenceView.id)).first()
        assert ref is not None
        key = ref.picture_key
    path = dep.ctx.storage.root / "objects" / key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with dep.db.session() as s:
        s.execute(delete(Event).where(Event.kind == "dark"))
    assert ours() == ["event.row_deleted", "reference.altered"]
