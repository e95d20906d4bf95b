"""Start the health monitor beside a recorder, with the MQTT publisher when one is configured."""

from __future__ import annotations

import logging

from custos.catalog.db import Database
from custos.config import Settings
from custos.events.mqtt import MqttPublisher
from custos.health.monitor import EventSink, HealthMonitor
from custos.ingest.recorder import Recorder
from custos.policy import Policy
from custos.storage.base import Storage

log = logging.getLogger(__name__)


class HealthService:
    def __init__(self, monitor: HealthMonitor, mqtt: MqttPublisher | None) -> None:
        self.monitor = monitor
        self.mqtt = mqtt

    def stop(self) -> None:
        self.monitor.stop()
        if self.mqtt is not None:
            self.mqtt.close()


def start_health(
    settings: Settings, db: Database, storage: Storage, policy: Policy, recorder: Recorder
) -> HealthService | None:
    """Check the recorder's cameras (after `recorder.start()`); None when health checks are turned off."""
    if not settings.health.enabled:
        return None
    sinks: list[EventSink] = []
    mqtt = None
    if settings.mqtt.enabled:
        mqtt = MqttPublisher(settings.mqtt, [c.name for c in recorder.cams])
        mqtt.start()
        sinks.append(mqtt)
    monitor = HealthMonitor(settings, db, storage, policy, [c.live for c in recorder.cams], sinks)
    monitor.start()
    recorder.health = monitor
    log.info("health checks on %d camera(s), one keyframe each %g s", len(recorder.cams), settings.health.interval_s)
    return HealthService(monitor, mqtt)
