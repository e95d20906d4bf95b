"""A real MQTT subscriber on the test broker (Mosquitto at 127.0.0.1:1883, started by scripts/services.sh)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt

HOST, PORT = "127.0.0.1", 1883


class Subscriber:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()

    def on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))
            self._cond.notify_all()

    def wait_for(self, match: Callable[[str, Any], bool], timeout_s: float = 20.0) -> tuple[str, Any]:
        """The first message (topic, payload as JSON if it parses) that `match` accepts."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for topic, raw, _ in self.messages:
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        payload = raw.decode()
                    if match(topic, payload):
                        return topic, payload
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(t, r[:120]) for t, r, _ in self.messages]
                    raise AssertionError(f"no matching MQTT message in {timeout_s} s; got {seen}")
                self._cond.wait(left)


def unique_prefix() -> str:
    """Topics of this test alone: the broker is shared by every test and keeps retained messages."""
    return f"custos-test-{uuid.uuid4().hex[:10]}"


@contextmanager
def subscribed(*topics: str) -> Iterator[Subscriber]:
    sub = Subscriber()
    ready = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}")
    c.on_message = sub.on_message
    c.on_subscribe = lambda *_a: ready.set()
    c.connect(HOST, PORT)
    c.loop_start()
    try:
        c.subscribe([(t, 1) for t in topics])
        assert ready.wait(10), "the broker did not acknowledge the subscription"
        yield sub
    finally:
        c.disconnect()
        c.loop_stop()
