"""Which frames count as sent: the bookkeeping behind the server's `stats`, free of GStreamer.

The recorder benchmark compares a camera's frames sent with the frames recorded, so the count must
include exactly the frames that went out to at least one client.

What is counted: access units entering the payloader (one buffer each: the parser's output is forced
to `alignment=au`; for mjpeg one JPEG each) while at least one client session is playing the media.
The payloader turns each into its RTP packets in the same call and pushes them on to the clients;
pacing happens upstream (`identity sync=true`) and the server turns off its sinks' clock sync, so a
frame reaches the socket ~0.3 ms after its count (with the sinks syncing it was 20 ms, and 10 of 16
clients tearing down were counted a frame they never got).
Counting marker-bit packets on the payloader's src pad would give the same number for ~15x the Python
callbacks (one per packet, ~360/s at 4 Mbit/s), which 64 cameras on 2 cores cannot afford.

Attachment follows the RTSP requests (PLAY attaches a session; TEARDOWN, PAUSE and a closed connection
detach it), which the server sees synchronously, just before it removes the client's transport. A
pipeline's state changes, by contrast, arrive late on its bus, and counting by them credited frames
produced after the last client had gone. The one frame a shared media prerolls before its first PLAY
is held as pending and credited on that PLAY (the sink sends it as the pipeline starts playing), or
forgotten if nobody ever plays. Frames dropped while a camera is frozen never reach the count.
Measured: counts equal the frames received in every one of 3x64 + 4x16 sessions torn down mid-stream;
a frame counted in the ~0.3 ms before a TEARDOWN's transport removal could still be one too many.
Per pipeline, not per client: a frame sent to three clients counts once.
"""

from __future__ import annotations

import threading


class CameraCounter:
    """A camera's frames sent since the server started, across all its pipelines (cut, restart)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent_frames = 0

    def value(self) -> int:
        with self.lock:
            return self.sent_frames


class MediaTally:
    """One pipeline's share of its camera's count; called from streaming threads and the main loop."""

    def __init__(self, counter: CameraCounter) -> None:
        self._counter = counter
        self._sessions: set[str] = set()
        self._ever_played = False
        self._pending = 0

    def frame(self) -> None:
        with self._counter.lock:
            if self._sessions:
                self._counter.sent_frames += 1
            elif not self._ever_played:
                self._pending += 1

    def attach(self, session_id: str) -> None:
        with self._counter.lock:
            self._sessions.add(session_id)
            if not self._ever_played:
                self._ever_played = True
                self._counter.sent_frames += self._pending
                self._pending = 0

    def detach(self, session_id: str) -> None:
        with self._counter.lock:
            self._sessions.discard(session_id)

    @property
    def has_played(self) -> bool:
        """False until the first PLAY: the pipeline is still prerolling (or waiting with its first frame)."""
        return self._ever_played
