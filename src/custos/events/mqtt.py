"""Events and camera status out over MQTT, with Home Assistant discovery (docs/ref/mqtt.md).

Topics, under the configured prefix (default `custos`):
- `<prefix>/status`: `online` / `offline` (retained; `offline` is the broker's last will, so a crashed custos
  shows as unavailable rather than healthy);
- `<prefix>/cameras/<camera>/status`: the camera's state as JSON (retained), see `custos.health.status`;
- `<prefix>/cameras/<camera>/events`: each event's start and end as JSON (`custos.events.records.event_payload`),
  QoS 1, not retained.
Home Assistant discovery (`<discovery>/binary_sensor/<node>_<camera>/{problem,motion}/config`, retained) makes
each camera a device with a "problem" and a "motion" sensor read from its status topic.

Publishing never blocks the caller: paho-mqtt's network thread sends, and messages of QoS 1 wait in its queue
while the broker is away. The broker is not the record (the catalog and the ledger are), so a message lost
with a broker that never comes back loses no evidence.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import paho.mqtt.client as mqtt

from custos.config.settings import MqttSettings

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def topic_safe(name: str) -> str:
    """A camera name as one topic level and a discovery id: MQTT wildcards and separators replaced."""
    return _UNSAFE.sub("_", name)


class MqttPublisher:
    def __init__(self, settings: MqttSettings, cameras: list[str]) -> None:
        self.settings = settings
        self.prefix = settings.topic_prefix.rstrip("/")
        self._cameras = list(cameras)
        self._status: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{settings.node_id}-events")
        if settings.username:
            c.username_pw_set(settings.username, settings.password)
        c.will_set(self.availability_topic, "offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.reconnect_delay_set(1, 30)
        self._client = c

    @property
    def availability_topic(self) -> str:
        return f"{self.prefix}/status"

    def camera_topic(self, camera: str, what: str) -> str:
        return f"{self.prefix}/cameras/{topic_safe(camera)}/{what}"

    def start(self) -> None:
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        if self.connected.is_set():
            self._client.publish(self.availability_topic, "offline", qos=1, retain=True).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()

    # -- the sink ---------------------------------------------------------------------------------

    def event(self, payload: dict[str, Any]) -> None:
        self._client.publish(self.camera_topic(payload["camera"], "events"), json.dumps(payload), qos=1)

    def status(self, camera: str, status: dict[str, Any]) -> None:
        with self._lock:
            self._status[camera] = status
            if camera not in self._cameras:
                self._cameras.append(camera)
                self._discover(camera)
        self._client.publish(self.camera_topic(camera, "status"), json.dumps(status), qos=1, retain=True)

    # -- connection -------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            log.warning("MQTT broker %s:%d refused: %s", self.settings.host, self.settings.port, reason)
            return
        client.publish(self.availability_topic, "online", qos=1, retain=True)
        with self._lock:
            for cam in self._cameras:
                self._discover(cam)
            for cam, st in self._status.items():  # the broker may have lost retained state
                client.publish(self.camera_topic(cam, "status"), json.dumps(st), qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        self.connected.clear()
        if reason.is_failure:
            log.warning("MQTT broker %s:%d lost: %s; reconnecting", self.settings.host, self.settings.port, reason)

    def _discover(self, camera: str) -> None:
        prefix = self.settings.discovery_prefix
        if not prefix:
            return
        for payload in discovery_configs(self.settings, self.prefix, camera):
            topic = f"{prefix}/binary_sensor/{payload['object_id']}/config"
            self._client.publish(topic, json.dumps(payload), qos=1, retain=True)


def discovery_configs(settings: MqttSettings, prefix: str, camera: str) -> list[dict[str, Any]]:
    """Home Assistant MQTT discovery for one camera: a device with a problem sensor and a motion sensor."""
    safe = topic_safe(camera)
    device = {
        "identifiers": [f"{settings.node_id}_{safe}"],
        "name": camera,
        "manufacturer": "custos",
        "model": "camera recorded by custos",
    }
    state = f"{prefix}/cameras/{safe}/status"
    common = {
        "state_topic": state,
        "json_attributes_topic": state,
        "availability_topic": f"{prefix}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
    }
    return [
        {
            **common,
            "name": "Problem",
            "object_id": f"{settings.node_id}_{safe}_problem",
            "unique_id": f"{settings.node_id}_{safe}_problem",
            "device_class": "problem",
            "value_template": "{{ 'OFF' if value_json.state == 'ok' else 'ON' }}",
        },
        {
            **common,
            "name": "Motion",
            "object_id": f"{settings.node_id}_{safe}_motion",
            "unique_id": f"{settings.node_id}_{safe}_motion",
            "device_class": "motion",
            "value_template": "{{ 'ON' if value_json.motion else 'OFF' }}",
        },
    ]
