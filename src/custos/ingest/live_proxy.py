"""The H.264 live proxy for H.265 cameras: Chromium plays H.264 but not H.265 through MSE (FACTS.md), so
an H.265 camera's live view is transcoded, on demand, only while someone watches it.

One proxy per camera, shared by all its viewers: it starts with the first viewer and stops with the
last. It transcodes on a thread of its own, never on the ingest thread, so a slow transcode costs live
view frames (it skips to the next keyframe) but never the recording. Recordings and exports are never
transcoded: only live pictures on their way to a screen are (bench/playback.py measures the cost).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av

from custos.ingest.live import Gone, LiveTap, Picture, Watcher
from custos.media.h26x import params_from_nals, split_annexb
from custos.media.types import AccessUnit, StreamParams

log = logging.getLogger(__name__)

BACKLOG = 50  # pictures waiting for the transcoder before it skips to the next keyframe
BITRATE = 2_000_000


def _annexb(nals: list[bytes]) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


class Transcoder:
    """H.265 pictures in, H.264 pictures out (x264, ultrafast, zero latency: no picture is held back)."""

    def __init__(self) -> None:
        self._dec = av.CodecContext.create("hevc", "r")
        self._dec.thread_count = 1  # one thread per proxy: its cost is bounded, and counted (ProxyStats)
        self._enc: av.CodecContext | None = None
        self._params: StreamParams | None = None
        self._out_params: StreamParams | None = None

    def push(self, params: StreamParams, au: AccessUnit) -> list[tuple[StreamParams, AccessUnit]]:
        nals = au.nals
        if au.is_key or params is not self._params:  # parameter sets in band, as the decoder needs them
            nals = [params.vps or b"", params.sps, params.pps, *nals]
            self._params = params
        out: list[tuple[StreamParams, AccessUnit]] = []
        packet = av.Packet(_annexb([n for n in nals if n]))
        packet.pts = packet.dts = au.pts_90k
        packet.time_base = Fraction(1, 90_000)
        for frame in self._dec.decode(packet):
            enc = self._encoder(frame.width, frame.height)
            frame.pts = au.pts_90k
            frame.time_base = Fraction(1, 90_000)
            frame.pict_type = av.video.frame.PictureType.NONE
            for p in enc.encode(frame):
                h264 = split_annexb(bytes(p))
                self._out_params = params_from_nals("h264", h264, self._out_params)
                if self._out_params is None:
                    continue
                self._out_params.extra["proxy"] = "h265"
                out.append((self._out_params, AccessUnit(au.pts_90k, h264, p.is_keyframe, au.received_ns)))
        return out

    def _encoder(self, width: int, height: int) -> av.CodecContext:
        enc = self._enc
        if enc is None or enc.width != width or enc.height != height:
            enc = av.CodecContext.create("libx264", "w")
            enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
            enc.time_base = Fraction(1, 90_000)
            enc.bit_rate = BITRATE
            enc.thread_count = 1
            enc.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "50", "repeat-headers": "1"}
            enc.open()
            self._enc = enc
        return enc


@dataclass
class ProxyStats:
    """What transcoding has cost so far: CPU seconds of the proxies' threads, pictures transcoded."""

    cpu_s: float = 0.0
    pictures: int = 0


class _Proxy:
    def __init__(self, tap: LiveTap, stats: ProxyStats) -> None:
        self.viewers = LiveTap(tap.camera)
        self._queue: queue.Queue[Picture | Gone | None] = queue.Queue()
        self._skipping = False
        self._stats = stats
        self._stop_tap = tap.watch(self._take)
        self._thread = threading.Thread(target=self._run, name=f"live-proxy-{tap.camera}", daemon=True)
        self._thread.start()

    def _take(self, item: Picture | Gone) -> None:  # the ingest thread: hand over, never wait
        if isinstance(item, Picture):
            if self._queue.qsize() >= BACKLOG:
                self._skipping = True
            if self._skipping:
                if not item.au.is_key:
                    return
                self._skipping = False
        self._queue.put(item)

    def _run(self) -> None:
        tx = Transcoder()
        while (item := self._queue.get()) is not None:
            if isinstance(item, Gone):
                self.viewers.gone(item.cause)
                tx = Transcoder()  # the next connection starts afresh at a keyframe
                continue
            t0 = time.thread_time()
            try:
                for params, au in tx.push(item.params, item.au):
                    self.viewers.set_params(params)
                    self.viewers.deliver([au])
            except av.error.FFmpegError as e:  # a damaged picture: skip it, as a decoder on a screen would
                log.warning("live proxy of %s: %s", self.viewers.camera, e)
            self._stats.cpu_s += time.thread_time() - t0
            self._stats.pictures += 1

    def stop(self) -> None:
        self._stop_tap()
        self._queue.put(None)


class Proxies:
    """Live taps as a browser can play them: H.264 cameras as they are, H.265 through a shared proxy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proxies: dict[int, tuple[_Proxy, int]] = {}
        self.stats = ProxyStats()

    def watch(self, tap: LiveTap, watcher: Watcher) -> Callable[[], None]:
        params = tap.params
        if params is not None and params.codec == "h264":
            return tap.watch(watcher)
        if params is None:
            # Not connected yet: watch the camera itself and decide per picture.
            return tap.watch(self._deferred(tap, watcher))
        return self._via_proxy(tap, watcher)

    def _deferred(self, tap: LiveTap, watcher: Watcher) -> Watcher:
        state: dict[str, Callable[[], None] | None] = {"stop": None}

        def first(item: Picture | Gone) -> None:
            if isinstance(item, Picture) and item.params.codec == "h265" and state["stop"] is None:
                state["stop"] = self._via_proxy(tap, watcher)
            if state["stop"] is None:
                watcher(item)

        return first

    def _via_proxy(self, tap: LiveTap, watcher: Watcher) -> Callable[[], None]:
        key = id(tap)
        with self._lock:
            proxy, n = self._proxies.get(key, (None, 0))
            if proxy is None:
                proxy = _Proxy(tap, self.stats)
            self._proxies[key] = (proxy, n + 1)
        stop_viewer = proxy.viewers.watch(watcher)

        def stop() -> None:
            stop_viewer()
            with self._lock:
                p, count = self._proxies.get(key, (None, 0))
                if p is None:
                    return
                if count <= 1:
                    del self._proxies[key]
                    p.stop()  # the last viewer left: no transcoding while nobody watches
                else:
                    self._proxies[key] = (p, count - 1)

        return stop

    @property
    def running(self) -> int:
        return len(self._proxies)


proxies = Proxies()
