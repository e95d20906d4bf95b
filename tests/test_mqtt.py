"""MQTT out to a real broker (Mosquitto): availability with a last will, Home Assistant discovery, retained
camera status, events with the payload docs/ref/mqtt.md documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mqtt_sub import HOST, PORT, subscribed, unique_prefix

from custos.catalog.db import Database
from custos.catalog.models import Camera
from custos.config.settings import MqttSettings
from custos.events.mqtt import MqttPublisher, topic_safe
from custos.events.records import end_event, event_payload, open_event

EVENT_FIELDS = {"id", "camera", "kind", "source", "state", "start", "end", "detail", "end_detail", "seq", "end_seq"}


def test_discovery_status_events_and_last_will_on_a_real_broker(db: Database, tmp_path: Path) -> None:
    prefix, disc = unique_prefix(), unique_prefix()
    settings = MqttSettings(enabled=True, host=HOST, port=PORT, topic_prefix=prefix, discovery_prefix=disc)
    with db.session() as s:
        s.add(Camera(name="gate/north+1", url="rtsp://x/1"))  # a name with topic separators and a wildcard
    with subscribed(f"{prefix}/#", f"{disc}/#") as sub:
        pub = MqttPublisher(settings, ["gate/north+1"])
        pub.start()
        try:
            assert pub.connected.wait(10)
            safe = topic_safe("gate/north+1")
            assert safe == "gate_north_1"
            sub.wait_for(lambda t, p: t == f"{prefix}/status" and p == "online")
            _, problem = sub.wait_for(lambda t, p: t == f"{disc}/binary_sensor/custos_{safe}_problem/config")
            assert problem["device_class"] == "problem" and problem["state_topic"] == f"{prefix}/cameras/{safe}/status"
            assert (
                problem["availability_topic"] == f"{prefix}/status" and problem["unique_id"] == f"custos_{safe}_problem"
            )
            assert problem["device"]["name"] == "gate/north+1"
            _, motion = sub.wait_for(lambda t, p: t == f"{disc}/binary_sensor/custos_{safe}_motion/config")
            assert motion["device_class"] == "motion"

            status = {"camera": "gate/north+1", "state": "faulty", "faults": ["occluded"], "motion": False}
            pub.status("gate/north+1", status)
            _, got = sub.wait_for(lambda t, p: t == f"{prefix}/cameras/{safe}/status")
            assert got == status

            at = dt.datetime.now(dt.UTC)
            with db.session() as s:
                e = open_event(s, "gate/north+1", "occluded", source="health", at=at, detail={"why": "covered"})
                started = event_payload(e, "gate/north+1")
                end_event(s, e, at=at + dt.timedelta(seconds=30), detail={"why": "uncovered"})
                ended = event_payload(e, "gate/north+1")
            pub.event(started)
            pub.event(ended)
            topic = f"{prefix}/cameras/{safe}/events"
            _, first = sub.wait_for(lambda t, p: t == topic and p["state"] == "start")
            _, last = sub.wait_for(lambda t, p: t == topic and p["state"] == "end")
            assert set(first) >= EVENT_FIELDS and first["kind"] == "occluded" and first["end"] is None
            assert last["id"] == first["id"] and last["end"].endswith("Z") and last["end_seq"] > last["seq"]
        finally:
            pub.close()
        sub.wait_for(lambda t, p: t == f"{prefix}/status" and p == "offline")
    # Retained: a subscriber that comes later still reads the camera's status.
    with subscribed(f"{prefix}/cameras/+/status") as late:
        _, got = late.wait_for(lambda t, p: True)
        assert got["faults"] == ["occluded"]
