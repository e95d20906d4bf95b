"""The durability thread: fsyncs fragments, publishes finished segments, writes catalog rows, in order.

The ingest loop only appends to files (page cache, microseconds) and hands the slow, blocking work
here, so 64 cameras' fsyncs and database commits never stall the sockets. Operations on one
camera are applied in the order they were queued: a segment is committed in storage before its
catalog row is written (docs/design/recording.md, write procedure).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from custos.storage.base import PartialWriter

log = logging.getLogger(__name__)


@dataclass
class _Sync:
    writer: PartialWriter


@dataclass
class _Call:
    fn: Callable[[], object]
    what: str


@dataclass
class FlusherStats:
    syncs: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)


class Flusher:
    def __init__(self, on_error: Callable[[str, Exception], None] | None = None) -> None:
        self._q: queue.SimpleQueue[_Sync | _Call | None] = queue.SimpleQueue()
        self._pending_sync: set[int] = set()
        self._lock = threading.Lock()
        self._on_error = on_error
        self.stats = FlusherStats()
        self._thread = threading.Thread(target=self._run, name="custos-flusher", daemon=True)
        self._thread.start()

    def sync(self, writer: PartialWriter) -> None:
        """Make the writer's bytes durable soon; repeated requests before it runs are merged."""
        with self._lock:
            if id(writer) in self._pending_sync:
                return
            self._pending_sync.add(id(writer))
        self._q.put(_Sync(writer))

    def call(self, what: str, fn: Callable[[], object]) -> None:
        """Run `fn` on the durability thread after everything queued before it."""
        self._q.put(_Call(fn, what))

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until everything queued so far is done."""
        done = threading.Event()
        self._q.put(_Call(done.set, "drain"))
        if not done.wait(timeout_s):
            raise TimeoutError(f"the flusher did not drain within {timeout_s} s")

    def close(self) -> None:
        self._q.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            op = self._q.get()
            if op is None:
                return
            try:
                if isinstance(op, _Sync):
                    with self._lock:
                        self._pending_sync.discard(id(op.writer))
                    try:
                        op.writer.sync()
                    except Exception as exc:  # a writer closed by its camera meanwhile is not an error
                        if "is closed" not in str(exc):
                            raise
                    self.stats.syncs += 1
                else:
                    op.fn()
                    self.stats.calls += 1
            except Exception as exc:
                what = "sync" if isinstance(op, _Sync) else op.what
                log.exception("flusher: %s failed", what)
                self.stats.errors.append(f"{what}: {exc}")
                if self._on_error is not None:
                    self._on_error(what, exc)
