"""Stream a clip while it is being joined: a writer thread fills a bounded queue, the response drains it.

The first byte goes out as soon as the clip's header is written (after the segments' indexes are read and
the clip is planned), not after its last byte: a five-minute clip's first byte no longer waits for the
whole clip (bench/playback.py). Everything `write_clip` checks it checks before writing anything, so a
refusal or a missing recording still answers as a problem, not as a broken stream. A client that goes
away stops the writer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

CHUNK = 256 * 1024
_DONE = object()


class Cancelled(Exception):
    """The reader went away: the writer stops."""


class Pipe:
    """A write-only file for the writer thread: chunks of about CHUNK bytes (the first write at once)."""

    def __init__(self, depth: int = 8) -> None:
        self.q: queue.Queue[Any] = queue.Queue(depth)
        self.buf = bytearray()
        self.first = True
        self.cancelled = threading.Event()

    def _put(self, item: Any) -> None:
        while True:
            if self.cancelled.is_set():
                raise Cancelled
            try:
                self.q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def write(self, data: bytes) -> int:
        self.buf += data
        if self.first or len(self.buf) >= CHUNK:
            self.first = False
            self._put(bytes(self.buf))
            self.buf.clear()
        return len(data)

    def flush(self) -> None:
        pass

    def end(self, error: BaseException | None = None) -> None:
        if self.buf and error is None:
            self._put(bytes(self.buf))
            self.buf.clear()
        self._put(error if error is not None else _DONE)


def stream(write: Callable[[BinaryIO], Any]) -> Iterator[bytes]:
    """Run `write(file)` in a thread; return an iterator over what it writes, whose first item is already
    there (or whose error is raised here, before any byte went out)."""
    pipe = Pipe()

    def run() -> None:
        try:
            write(pipe)  # type: ignore[arg-type]
        except Cancelled:
            return
        except BaseException as e:  # handed to the reader
            try:
                pipe.end(e)
            except Cancelled:
                pass
            return
        try:
            pipe.end()
        except Cancelled:
            pass

    threading.Thread(target=run, name="clip-writer", daemon=True).start()
    first = pipe.q.get()
    if isinstance(first, BaseException):
        raise first
    return _Chunks(pipe, first)


class _Chunks:
    """What the writer wrote, in order. Dropped or closed unread (the client left before or during the
    body), it stops the writer: `__del__` covers a response whose body never started."""

    def __init__(self, pipe: Pipe, first: Any) -> None:
        self.pipe, self.first = pipe, first

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        item, self.first = (self.first, None) if self.first is not None else (self.pipe.q.get(), None)
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        self.pipe.cancelled.set()

    def __del__(self) -> None:
        self.close()
