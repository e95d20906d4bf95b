"""Reconnect delays: doubling from a minimum to a maximum, reset once a connection delivers pictures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    min_s: float
    max_s: float
    _next_s: float = 0.0

    def __post_init__(self) -> None:
        self._next_s = self.min_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self.min_s
