"""The recorder's live tap: each camera's pictures handed, as they arrive, to whoever watches it live.

Live view never opens a second connection to a camera: it taps what the recorder receives (many cameras
allow only a few RTSP sessions, and a second stream would not be what is recorded). The tap runs on the
ingest thread, so it never blocks and never fails the recording: a watcher is a callback that must
return at once (the web side hands the picture to its event loop), and a watcher that raises is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from custos.media.types import AccessUnit, StreamParams

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Picture:
    """One picture for live view, with the parameter sets it decodes with."""

    params: StreamParams
    au: AccessUnit


@dataclass(frozen=True, slots=True)
class Gone:
    """The camera's connection ended: live view shows why until pictures come again."""

    cause: str


Watcher = Callable[[Picture | Gone], None]


class LiveTap:
    """One camera's watchers. `deliver` is called by the ingest thread; `watch` from any thread."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self._lock = threading.Lock()
        self._watchers: tuple[Watcher, ...] = ()
        self._params: StreamParams | None = None

    @property
    def watched(self) -> bool:
        return bool(self._watchers)

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Start handing pictures to `watcher`; returns the function that stops it."""
        with self._lock:
            self._watchers = (*self._watchers, watcher)

        def stop() -> None:
            with self._lock:
                self._watchers = tuple(w for w in self._watchers if w is not watcher)

        return stop

    @property
    def params(self) -> StreamParams | None:
        return self._params

    def set_params(self, params: StreamParams) -> None:
        self._params = params

    def deliver(self, aus: list[AccessUnit]) -> None:
        params = self._params
        watchers = self._watchers  # a tuple swapped whole under the lock: safe to read without it
        if not watchers or params is None:
            return
        for au in aus:
            self._send(watchers, Picture(params, au))

    def gone(self, cause: str) -> None:
        self._send(self._watchers, Gone(cause))

    def _send(self, watchers: tuple[Watcher, ...], item: Picture | Gone) -> None:
        for w in watchers:
            try:
                w(item)
            except Exception:
                log.exception("live view of %s: a watcher failed and is dropped", self.camera)
                with self._lock:
                    self._watchers = tuple(x for x in self._watchers if x is not w)
